/* A rank's threads (threads.h): gsvae_parallel_run on plain POSIX threads, started and joined
 * per call (a step's pieces take milliseconds; starting a thread takes tens of microseconds, so
 * no pool is kept); gsvae_parallel_ranges, element-wise work split over the BLAS library's team;
 * and the BLAS threads each rank of a node takes. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include "core/check.h"
#include "cpu/blas.h"
#include "cpu/threads.h"

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

typedef struct {
  void (*body)(void *context, size_t begin, size_t end);
  void *context;
  size_t count;
  int workers;
} range_task;

static void run_range(void *context, int worker) {
  range_task *task = context;
  size_t begin = task->count * worker / task->workers, end = task->count * (worker + 1) / task->workers;
  if (begin < end) task->body(task->context, begin, end);
}

void gsvae_parallel_ranges(size_t count, size_t min_per_worker,
                           void (*body)(void *context, size_t begin, size_t end), void *context) {
  size_t most = min_per_worker > 0 ? count / min_per_worker : count;
  int threads = gsvae_blas_team_size();
  int workers = most < (size_t)threads ? (int)most : threads;
  if (workers <= 1) {
    if (count > 0) body(context, 0, count);
    return;
  }
  range_task task = {body, context, count, workers};
  gsvae_blas_team_run(workers, run_range, &task);
}

/* The BLAS would start one thread per core in every rank; share the node's cores instead,
 * unless the user said otherwise. A rank that mpirun or srun bound to some cores gets one thread
 * per core of its binding; an unbound rank gets its share of the node's cores, counted over the
 * world (comm/node_placement.h), not the run's communicator, since sweep groups share the node too. */
void gsvae_share_cores_among_local_ranks(int local_ranks) {
  if (gsvae_blas_threads_from_env()) return;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t allowed;
  long bound = sched_getaffinity(0, sizeof allowed, &allowed) == 0 ? CPU_COUNT(&allowed) : cores;
  int threads = (int)(bound < cores ? bound : cores / (local_ranks > 0 ? local_ranks : 1));
  gsvae_blas_set_threads(threads > 0 ? threads : 1);
}
