/* gsvae_parallel_run (parallel.h): plain POSIX threads, started and joined per call. A step's
 * pieces take milliseconds; starting a thread takes tens of microseconds, so no pool is kept. */
#include <pthread.h>
#include <string.h>
#include "gsvae/check.h"
#include "gsvae/parallel.h"

enum { MAX_WORKERS = 256 };

typedef struct {
  void (*body)(void *context, int worker);
  void *context;
  int worker;
} worker_start;

static void *run_worker(void *argument) {
  worker_start *start = argument;
  start->body(start->context, start->worker);
  return NULL;
}

void gsvae_parallel_run(int workers, void (*body)(void *context, int worker), void *context) {
  if (workers < 1 || workers > MAX_WORKERS)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "parallel: %d workers outside [1, %d]", workers, MAX_WORKERS);
  pthread_t threads[MAX_WORKERS];
  worker_start starts[MAX_WORKERS];
  for (int w = 1; w < workers; w++) {
    starts[w] = (worker_start){body, context, w};
    int status = pthread_create(&threads[w], NULL, run_worker, &starts[w]);
    if (status) gsvae_abort(GSVAE_EXIT_RUNTIME, "parallel: pthread_create for worker %d: %s", w, strerror(status));
  }
  body(context, 0);
  for (int w = 1; w < workers; w++) {
    int status = pthread_join(threads[w], NULL);
    if (status) gsvae_abort(GSVAE_EXIT_RUNTIME, "parallel: pthread_join of worker %d: %s", w, strerror(status));
  }
}
