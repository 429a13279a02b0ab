/* The model's transcendental loops: BCE over a sample's pixels, the Gumbel transform over its
 * draws, and exp and log in place over arrays (KL's). In float they are SLEEF's deterministic
 * vector functions (vector_math.h), which return the same bits on every x86-64 at 2-4x glibc's
 * scalar speed, so neither a row's nor an array's split into vector parts changes a result; in
 * double (the gradient checks) libm's. BCE runs over one sample's row from its start, in blocks
 * fixed by the row alone, so a sample is computed the same whatever its batch, rank or thread. */
#include <math.h>
#include "cpu/exp_log_rows.h"

#ifdef GSVAE_REAL_DOUBLE
#define real_fabs fabs
void cpu_exp_in_place(double *values, size_t count) {
  for (size_t i = 0; i < count; i++) values[i] = exp(values[i]);
}
void cpu_log_in_place(double *values, size_t count) {
  for (size_t i = 0; i < count; i++) values[i] = log(values[i]);
}
#else
#include "cpu/vector_math.h"
#define real_fabs fabsf
void cpu_exp_in_place(float *values, size_t count) { gsvae_exp_array(values, values, count); }
void cpu_log_in_place(float *values, size_t count) { gsvae_log_array(values, values, count); }
#endif

/* A block's sum in interleaved partial sums where GCC vectorises it (CMake's -fopenmp-simd): the
 * same order wherever one binary runs, and a shorter dependency chain than one running sum. Clang
 * (the sanitized build) keeps the plain sum: it warns that it cannot vectorise this loop. */
#if defined(__GNUC__) && !defined(__clang__)
#define GSVAE_PRAGMA(x) _Pragma(#x)
#define GSVAE_SIMD_SUM(var) GSVAE_PRAGMA(omp simd reduction(+ : var))
#else
#define GSVAE_SIMD_SUM(var)
#endif

/* Pixels a block takes: its exp and log buffers stay in L1 beside the row. */
enum { BCE_BLOCK = 256 };

/* log(1 + e), not log1p: PyTorch's form. */
gsvae_real cpu_bce_row(const gsvae_real *a, const gsvae_real *x, int dim, gsvae_real *grad) {
  gsvae_real row_sum = 0;
  for (int start = 0; start < dim; start += BCE_BLOCK) {
    int count = dim - start < BCE_BLOCK ? dim - start : BCE_BLOCK;
    const gsvae_real *v = a + start, *target = x + start;
    gsvae_real e[BCE_BLOCK], softplus[BCE_BLOCK], block_sum = 0;
    for (int p = 0; p < count; p++) e[p] = -real_fabs(v[p]);
    cpu_exp_in_place(e, (size_t)count);
    for (int p = 0; p < count; p++) softplus[p] = 1 + e[p];
    cpu_log_in_place(softplus, (size_t)count);
    GSVAE_SIMD_SUM(block_sum)
    for (int p = 0; p < count; p++) block_sum += (v[p] > 0 ? v[p] : 0) - target[p] * v[p] + softplus[p];
    row_sum += block_sum;
    if (!grad) continue;
    for (int p = 0; p < count; p++) {
      gsvae_real sigmoid_numerator = v[p] >= 0 ? 1 : e[p];
      grad[start + p] = sigmoid_numerator / (1 + e[p]) - target[p];
    }
  }
  return row_sum;
}

#ifndef GSVAE_REAL_DOUBLE
void gsvae_exponential_from_uniform(float *values, uint32_t count) {
  cpu_log_in_place(values, count);
  for (uint32_t i = 0; i < count; i++) values[i] = -values[i];
}

void gsvae_gumbel_from_uniform(float *values, uint32_t count) {
  gsvae_exponential_from_uniform(values, count);
  gsvae_exponential_from_uniform(values, count);
}
#endif
