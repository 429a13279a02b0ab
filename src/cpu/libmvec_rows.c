/* The model's transcendental loops, vectorised with glibc's libmvec (see libmvec.h). They
 * live apart from model_math.c so that these loops alone use the vector logf/expf: in model_math.c
 * GCC would also vectorise KL's sums, whose cancellation turns a few ulp into more than 1e-5 off
 * PyTorch. Each loop runs over one sample's row from its start, so a sample is computed the same
 * whatever its batch or rank. Built in float for the trainer and in double for the gradient check. */
#include "cpu/libmvec_rows.h"
#include "cpu/libmvec.h"

#ifdef GSVAE_REAL_DOUBLE
#define real_exp exp
#define real_log log
#define real_fabs fabs
#else
#define real_exp expf
#define real_log logf
#define real_fabs fabsf
#endif

/* log(1 + e), not log1p: PyTorch's form; log1p would cost 5x and change the sum < 1e-7 relative.
 * The gradient's loop stays scalar (GCC 12 sees its selects as control flow): vectorised, with
 * libmvec's expf (up to 2.9 ulp, glibc's scalar 1), it took fc4.bias's gradient 1.04e-5 from float64
 * in model_parity_pytorch (limit 1e-5, PyTorch's own 1.2e-6) for 2-10% of a step. */
gsvae_real cpu_bce_row(const gsvae_real *a, const gsvae_real *x, int dim, gsvae_real *grad) {
  gsvae_real row_sum = 0;
  if (grad) {
    GSVAE_SIMD_SUM(row_sum)
    for (int p = 0; p < dim; p++) {
      gsvae_real v = a[p], e = real_exp(-real_fabs(v)), one_plus = 1 + e;
      row_sum += (v > 0 ? v : 0) - x[p] * v + real_log(one_plus);
      grad[p] = (v >= 0 ? 1 : e) / one_plus - x[p];
    }
  } else {
    GSVAE_SIMD_SUM(row_sum)
    for (int p = 0; p < dim; p++) {
      gsvae_real v = a[p];
      row_sum += (v > 0 ? v : 0) - x[p] * v + real_log(1 + real_exp(-real_fabs(v)));
    }
  }
  return row_sum;
}

#ifndef GSVAE_REAL_DOUBLE
void gsvae_gumbel_from_uniform(float *values, uint32_t count) {
  GSVAE_SIMD
  for (uint32_t i = 0; i < count; i++) values[i] = -logf(-logf(values[i]));
}
#endif
