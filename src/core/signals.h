/* Preemption: SIGTERM, SIGINT and SIGUSR1 only raise a flag; the training loop polls it at step
 * boundaries, the ranks agree to stop, write a checkpoint and exit GSVAE_EXIT_INTERRUPTED. */
#pragma once

/* Installs the handlers, once (later calls do nothing), and blocks the signals in the calling
 * thread and so in every thread it starts afterwards: call it before starting the threads that
 * compute. A second stop signal gets the default action (a second Ctrl-C kills at once). */
void gsvae_signals_install(void);
/* The first stop signal received (SIGTERM, SIGINT, SIGUSR1), or 0. */
int gsvae_signal_received(void);
