/* The model's transcendental loops (exp_log_rows.c): BCE over a sample's pixels, the Gumbel
 * transform over its draws, and exp and log over arrays for the other loops (KL). */
#pragma once
#include <stdint.h>
#include "cpu/model_math.h"

#define cpu_bce_row GSVAE_CPU(cpu_bce_row)
#define cpu_exp_in_place GSVAE_CPU(cpu_exp_in_place)
#define cpu_log_in_place GSVAE_CPU(cpu_log_in_place)

/* values[i] = exp(values[i]) and log(values[i]) for i < count: SLEEF's deterministic vector
 * functions in float (vector_math.h), libm's in double. */
void cpu_exp_in_place(gsvae_real *values, size_t count);
void cpu_log_in_place(gsvae_real *values, size_t count);

/* BCE(sigmoid(a), x) summed over one row of dim pixels, in the stable form
 * max(a,0) - x a + log(1 + exp(-|a|)); grad (if not NULL) gets sigmoid(a) - x. */
gsvae_real cpu_bce_row(const gsvae_real *a, const gsvae_real *x, int dim, gsvae_real *grad);

/* values[i] = -log(values[i]): uniforms in (0,1) to Exp(1) draws. */
void gsvae_exponential_from_uniform(float *values, uint32_t count);
/* values[i] = -log(-log(values[i])): uniforms in (0,1) to Gumbel draws, one sample's row. */
void gsvae_gumbel_from_uniform(float *values, uint32_t count);
