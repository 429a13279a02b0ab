/* The BLAS library the model's float matrix products go through, chosen when gsvae is built
 * (CMake's GSVAE_BLAS) and implemented by src/blas_<library>.c: everything that differs between
 * libraries (the product call, thread count, worker threads, kernel choice, names) is here, and
 * the rest of gsvae names no library. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* Products with beta = 1 over K up to GSVAE_MAX_CHUNK_ROWS (core/chunks.h) round exactly as the
 * product with beta = 0 added to C afterwards, on every kernel set of the library. */

/* C (m x n) = alpha op(A) op(B) + beta C, row-major as the model's buffers; op transposes its
 * operand when trans_* is set. Aborts if the library refuses the call. */
void gsvae_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);

/* device.precision=bf16: C (m x n) = op(A) op(B), or with accumulate + C, where A and B hold
 * bfloat16 bit patterns (cpu/bf16.h) and every product and sum is formed in float; row-major, op
 * as gsvae_sgemm's. Only where gsvae_blas_bf16_missing() returns NULL; aborts if the library
 * refuses the call. Callable from several threads at once. */
void gsvae_gemm_bf16(bool trans_a, bool trans_b, int m, int n, int k, const uint16_t *a, int lda, const uint16_t *b,
                     int ldb, bool accumulate, float *c, int ldc);
/* NULL when this build runs bf16 products at speed on this CPU (AVX512_BF16 or AMX instructions);
 * otherwise what is missing, in words for an error message. */
const char *gsvae_blas_bf16_missing(void);

/* Threads the library splits the calling thread's next products over (OpenBLAS: every thread's;
 * oneDNN: the calling thread's OpenMP setting, so a thread gsvae starts sets its own). */
void gsvae_blas_set_threads(int threads);
/* What the calling thread's products would be split over now. */
int gsvae_blas_get_threads(void);
/* Whether the environment sets the library's thread count (gsvae then leaves it as the user said). */
bool gsvae_blas_threads_from_env(void);

/* The threads the library lends the calling thread for the model's element-wise work: oneDNN's
 * OpenMP team, the products' own threads, so that neither waits spinning while the other works.
 * OpenBLAS's pool takes no outside work, and threads started per call instead made the step 2x
 * slower beside a busy core (bench/cpu/results/parallel_ranges.md): 1 there. */
int gsvae_blas_team_size(void);
/* Runs body(context, w) for w = 0 .. workers-1 on those threads, w = 0 on the calling one;
 * workers at most gsvae_blas_team_size(). */
void gsvae_blas_team_run(int workers, void (*body)(void *context, int worker), void *context);

/* Gives the library's worker threads the calling thread's floating-point environment (on x86,
 * MXCSR's flush-to-zero and denormals-are-zero bits). Call while no product is running. */
void gsvae_blas_workers_take_float_mode(void);

/* The library, its version and build (run.h5's env/blas, `gsvae info`). */
const char *gsvae_blas_name(void);
/* The kernel set it runs on this CPU (env/blas_kernels). */
const char *gsvae_blas_kernels(void);

/* Re-executes the program when the library chose kernels far slower than this CPU runs and the
 * choice can only be made at load time; returns otherwise. Call first thing in main(). */
void gsvae_blas_pick_kernels(char **argv);
