/* Stop signals as a flag (see signals.h): the handler only stores the signal number, since
 * nothing else is async-signal-safe, and the loop acts on it at a step boundary. */
#include <signal.h>
#include <string.h>
#include "core/check.h"
#include "core/signals.h"

static volatile sig_atomic_t received_signal = 0;

static void on_stop_signal(int signal_number) {
  if (received_signal == 0) received_signal = signal_number;
}

void gsvae_signals_install(void) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_stop_signal;
  action.sa_flags = SA_RESETHAND | SA_RESTART;
  sigemptyset(&action.sa_mask);
  const int stop_signals[] = {SIGTERM, SIGINT, SIGUSR1};
  for (int i = 0; i < 3; i++)
    if (sigaction(stop_signals[i], &action, NULL) != 0)
      gsvae_abort(GSVAE_EXIT_RUNTIME, "cannot install the handler for signal %d", stop_signals[i]);
}

int gsvae_signal_received(void) { return received_signal; }
