/* src/cpu/blas.h on oneDNN (GSVAE_BLAS=onednn): dnnl_sgemm, which picks its kernels on the CPU
 * at run time (ONEDNN_MAX_CPU_ISA caps them), on the OpenMP threads of the calling thread. Debian's
 * oneDNN 2.6 runs them on GNU OpenMP (libgomp.so.1, which CMake links); this file drives the same
 * threads through libgomp's entry points rather than OpenMP pragmas, so that it needs no OpenMP
 * support of the compiler: clang's -fopenmp would bring LLVM's runtime, a second thread pool. */
#include <fenv.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include "cpu/blas.h"
#include "core/check.h"

#if DNNL_CPU_THREADING_RUNTIME != DNNL_RUNTIME_OMP
#error "gsvae sets oneDNN's threads and their floating-point mode through OpenMP: needs oneDNN built with OpenMP"
#endif

/* The OpenMP API (as omp.h declares it) and GCC's code for `#pragma omp parallel num_threads(n)`:
 * fn(data) on n threads of the calling thread's team, this one among them. */
void omp_set_num_threads(int threads);
int omp_get_max_threads(void);
int omp_get_num_procs(void);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
void GOMP_parallel(void (*fn)(void *), void *data, unsigned threads, unsigned flags);

void gsvae_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc) {
  dnnl_status_t status =
      dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "dnnl_sgemm(%c, %c, %d, %d, %d): %s", trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m,
                n, k, dnnl_status2str(status));
}

/* dnnl_sgemm runs omp_get_max_threads() threads: the calling thread's OpenMP setting. */
void gsvae_blas_set_threads(int threads) { omp_set_num_threads(threads); }

int gsvae_blas_get_threads(void) { return omp_get_max_threads(); }

bool gsvae_blas_threads_from_env(void) { return getenv("OMP_NUM_THREADS") != NULL; }

typedef struct {
  void (*body)(void *context, int worker);
  void *context;
  int workers;
} team_task;

/* A team may come out smaller than asked (a region nested in another runs on one thread): its
 * threads then take the workers in turn, so that every one runs. */
static void team_member(void *data) {
  team_task *task = data;
  for (int w = omp_get_thread_num(); w < task->workers; w += omp_get_num_threads()) task->body(task->context, w);
}

int gsvae_blas_team_size(void) { return omp_get_max_threads(); }

void gsvae_blas_team_run(int workers, void (*body)(void *context, int worker), void *context) {
  if (workers <= 1) {
    body(context, 0);
    return;
  }
  team_task task = {body, context, workers};
  GOMP_parallel(team_member, &task, (unsigned)workers, 0);
}

typedef struct {
  fenv_t mode;
  atomic_int failed;
} float_mode_task;

static void take_float_mode(void *data) {
  float_mode_task *task = data;
  if (fesetenv(&task->mode) != 0) atomic_fetch_add(&task->failed, 1);
}

/* GNU OpenMP keeps the threads of a parallel region for the next ones, so a product runs on threads
 * started with whatever mode their creator had then. Each thread of the pool sets the mode itself;
 * the region is as large as the pool can be (the thread count, or one per core if more), and
 * threads started later inherit it from this one. */
void gsvae_blas_workers_take_float_mode(void) {
  float_mode_task task = {.failed = 0};
  if (fegetenv(&task.mode) != 0) gsvae_abort(GSVAE_EXIT_RUNTIME, "fegetenv failed");
  int threads = omp_get_max_threads(), cores = omp_get_num_procs();
  GOMP_parallel(take_float_mode, &task, (unsigned)(threads > cores ? threads : cores), 0);
  if (task.failed) gsvae_abort(GSVAE_EXIT_RUNTIME, "fesetenv failed in %d OpenMP thread(s)", atomic_load(&task.failed));
}

const char *gsvae_blas_name(void) {
  static char name[128];
  const dnnl_version_t *version = dnnl_version();
  snprintf(name, sizeof name, "oneDNN %d.%d.%d (commit %s, OpenMP threads)", version->major, version->minor,
           version->patch, version->hash);
  return name;
}

const char *gsvae_blas_kernels(void) { return dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()); }

/* oneDNN dispatches on the CPU at each call: there is no load-time choice to correct. */
void gsvae_blas_pick_kernels(char **argv) { (void)argv; }
