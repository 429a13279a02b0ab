/* The step watchdog: a rank whose training loop reaches no step boundary for run.watchdog
 * seconds (a peer rank hung, or died without taking the job down, inside a collective) says so
 * and ends its process, so that mpirun or srun end the job instead of it hanging to its limit. */
#pragma once

/* Starts the watchdog thread (seconds <= 0: off). */
void gsvae_watchdog_start(double seconds);
/* Marks a step boundary: the loop is alive and entering step `step`. */
void gsvae_watchdog_progress(long step);
void gsvae_watchdog_stop(void);
