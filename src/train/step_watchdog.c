/* The step watchdog (see step_watchdog.h): one thread polling the time of the last step boundary. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include "core/check.h"
#include "train/step_watchdog.h"

static pthread_t watchdog_thread;
static atomic_bool watchdog_running;
static atomic_long watchdog_step;
static _Atomic double watchdog_last_progress;
static double watchdog_limit;

static double monotonic_seconds(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

static void *watch(void *unused) {
  (void)unused;
  while (atomic_load(&watchdog_running)) {
    double idle = monotonic_seconds() - atomic_load(&watchdog_last_progress);
    if (idle > watchdog_limit) {
      /* MPI may not be called from this thread (MPI_THREAD_FUNNELED): end the process, and the
       * launcher ends the job. */
      fprintf(stderr,
              "gsvae: error on rank %d of %d: no progress for %.0f s in step %ld (run.watchdog=%g): a peer rank "
              "hung or died; ending the job\n",
              gsvae_world_rank, gsvae_world_size, idle, atomic_load(&watchdog_step), watchdog_limit);
      fflush(stderr);
      _exit(GSVAE_EXIT_RUNTIME);
    }
    usleep(200 * 1000);
  }
  return NULL;
}

void gsvae_watchdog_start(double seconds) {
  if (seconds <= 0) return;
  watchdog_limit = seconds;
  atomic_store(&watchdog_last_progress, monotonic_seconds());
  atomic_store(&watchdog_running, true);
  int status = pthread_create(&watchdog_thread, NULL, watch, NULL);
  if (status != 0) gsvae_abort(GSVAE_EXIT_RUNTIME, "cannot start the watchdog thread (error %d)", status);
}

void gsvae_watchdog_progress(long step) {
  atomic_store(&watchdog_step, step);
  atomic_store(&watchdog_last_progress, monotonic_seconds());
}

void gsvae_watchdog_stop(void) {
  if (!atomic_load(&watchdog_running)) return;
  atomic_store(&watchdog_running, false);
  pthread_join(watchdog_thread, NULL);
}
