/* The gradient the estimators are measured against: that of the unrelaxed objective
 * sum_b E_q(z|x_b)[BCE(x_b, decoder(z))] + KL(q(z|x_b) || uniform), exactly by enumerating the
 * K^L latent configurations of each input, or as one unbiased draw of the local-expectation
 * gradient (Titsias and Lazaro-Gredilla 2015), whose variance is far below the score function's.
 * Built in float and in double, as model_math.c. */
#pragma once
#include <stdint.h>
#include "cpu/model_math.h"

/* Enumeration decodes K^L rows per input; past this many it is refused (the local expectation
 * serves there). */
#define GSVAE_REFERENCE_MAX_CONFIGURATIONS 65536

#define cpu_reference_configurations GSVAE_CPU(cpu_reference_configurations)
#define cpu_reference_create GSVAE_CPU(cpu_reference_create)
#define cpu_reference_free GSVAE_CPU(cpu_reference_free)
#define cpu_reference_exact GSVAE_CPU(cpu_reference_exact)
#define cpu_reference_local GSVAE_CPU(cpu_reference_local)

typedef struct cpu_reference cpu_reference; /* workspace for batches of up to max_batch inputs */

/* K^L, or 0 when it exceeds GSVAE_REFERENCE_MAX_CONFIGURATIONS. */
long cpu_reference_configurations(const gsvae_layout *layout);

/* exact: whether cpu_reference_exact will be called (it needs K^L rows of workspace). */
cpu_reference *cpu_reference_create(const gsvae_layout *layout, int max_batch, bool exact);
void cpu_reference_free(cpu_reference *reference);

/* grads (overwritten) = the exact gradient of the batch's summed unrelaxed objective, which is
 * returned. */
double cpu_reference_exact(cpu_reference *reference, const gsvae_real *params, gsvae_real *grads, const gsvae_real *x,
                           int batch);

/* grads (overwritten) = one draw of the local-expectation gradient: z ~ q by Gumbel-max with
 * gumbel (batch x L*K), then for each latent j the K configurations of z with latent j changed,
 * weighted by q_j: the logits' gradient q_j(c) (f(z_-j, c) - sum_c' q_j(c') f(z_-j, c')) and the
 * decoder's sum_c q_j(c) grad f(z_-j, c), averaged over j. Unbiased for the exact gradient, and
 * exact when L = 1. Returns the draw's unbiased estimate of the objective. */
double cpu_reference_local(cpu_reference *reference, const gsvae_real *params, gsvae_real *grads, const gsvae_real *x,
                           int batch, const gsvae_real *gumbel);
