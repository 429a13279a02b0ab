/* src/cpu/blas.h on OpenBLAS (GSVAE_BLAS=openblas): cblas_sgemm, its pthread pool, and the
 * kernel choice. Debian's OpenBLAS 0.3.21 falls back to its SSE3 "Prescott" kernels on CPUs newer
 * than it knows (Sapphire Rapids among them), about 6x slower at this model's products; it chooses
 * when it is loaded, so gsvae_blas_pick_kernels chooses by re-executing once with
 * OPENBLAS_CORETYPE set from the CPU's features. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cpu/blas.h"
#include "core/check.h"

/* OpenBLAS's own pool control (exported by libopenblas, not declared in cblas.h): the first joins
 * the workers, the second starts them again from the calling thread. Both return 0. */
int blas_thread_shutdown_(void);
int blas_thread_init(void);

void gsvae_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc) {
  /* cblas_sgemm returns nothing; OpenBLAS reports a bad argument through xerbla on stderr */
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, lda, b, ldb, beta, c, ldc);
}

/* OpenBLAS 0.3.21's bf16 product (sbgemm) is not in Debian's build, which is made without
 * BUILD_BFLOAT16. */
const char *gsvae_blas_bf16_missing(void) {
  return "this gsvae is built on OpenBLAS (GSVAE_BLAS=openblas), whose Debian build has no bf16 product; "
         "the default build, on oneDNN, has one";
}

void gsvae_gemm_bf16(bool trans_a, bool trans_b, int m, int n, int k, const uint16_t *a, int lda, const uint16_t *b,
                     int ldb, bool accumulate, float *c, int ldc) {
  (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)accumulate,
      (void)c, (void)ldc;
  gsvae_abort(GSVAE_EXIT_RUNTIME, "gsvae_gemm_bf16: %s", gsvae_blas_bf16_missing());
}

void gsvae_blas_set_threads(int threads) { openblas_set_num_threads(threads); }

int gsvae_blas_get_threads(void) { return openblas_get_num_threads(); }

int gsvae_blas_team_size(void) { return 1; }

void gsvae_blas_team_run(int workers, void (*body)(void *context, int worker), void *context) {
  for (int w = 0; w < workers; w++) body(context, w);
}

/* OpenBLAS reads the first of these that is set, when it is loaded. */
bool gsvae_blas_threads_from_env(void) {
  return getenv("OPENBLAS_NUM_THREADS") || getenv("GOTO_NUM_THREADS") || getenv("OMP_NUM_THREADS");
}

/* OpenBLAS starts its workers from its load-time constructor, before main, and a new thread
 * inherits its creator's floating-point mode: restarting the pool from this thread passes it on. */
void gsvae_blas_workers_take_float_mode(void) {
  if (blas_thread_shutdown_() != 0 || blas_thread_init() != 0)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "OpenBLAS: restarting the thread pool failed");
}

const char *gsvae_blas_name(void) { return openblas_get_config(); }

const char *gsvae_blas_kernels(void) { return openblas_get_corename(); }

void gsvae_blas_pick_kernels(char **argv) {
  if (getenv("OPENBLAS_CORETYPE") || strcmp(openblas_get_corename(), "Prescott") != 0) return;
  __builtin_cpu_init();
  const char *core = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                     : __builtin_cpu_supports("avx2") ? "Haswell"
                                                       : NULL;
  if (!core) return;
  /* The resolved path, not /proc/self/exe, so that the process keeps its name (ps, pkill). */
  char self[4096];
  ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  if (length <= 0) return;
  self[length] = '\0';
  setenv("OPENBLAS_CORETYPE", core, 1);
  execv(self, argv); /* returns only on failure: then the slow kernels still work */
}
