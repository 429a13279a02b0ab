/* The model's math on the CPU, the reference the GPU backend is checked against: forward and
 * backward of the relaxed objective (Gumbel-Softmax or straight-through), the unrelaxed
 * objective, encode/decode, and Adam, over the flat buffers. Matrix products through CBLAS.
 * The trainer builds it in float; the gradient check builds the same source in double
 * (-DGSVAE_REAL_DOUBLE), whose functions carry a _f64 suffix so both can link together. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "gsvae/model.h"

#ifdef GSVAE_REAL_DOUBLE
typedef double gsvae_real;
#define GSVAE_CPU(name) name##_f64
#else
typedef float gsvae_real;
#define GSVAE_CPU(name) name
#endif

/* Marks a hot elementwise loop for an AVX2 copy beside the baseline x86-64 one, picked at load
 * time; only for loops whose copies round alike. GCC only: clang 14 emits no dispatcher for a
 * function called from another file. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define GSVAE_WIDE_LOOP __attribute__((target_clones("avx2", "default")))
#else
#define GSVAE_WIDE_LOOP
#endif

typedef struct cpu_model cpu_model;  /* activation workspace for up to max_batch samples */

#define cpu_model_create GSVAE_CPU(cpu_model_create)
#define cpu_model_free GSVAE_CPU(cpu_model_free)
#define cpu_model_forward_backward GSVAE_CPU(cpu_model_forward_backward)
#define cpu_model_unrelaxed_loss GSVAE_CPU(cpu_model_unrelaxed_loss)
#define cpu_model_encode GSVAE_CPU(cpu_model_encode)
#define cpu_model_decode GSVAE_CPU(cpu_model_decode)
#define cpu_adam_update GSVAE_CPU(cpu_adam_update)

cpu_model *cpu_model_create(const gsvae_layout *layout, int max_batch);
void cpu_model_free(cpu_model *model);

/* Relaxed objective on x (batch x D in [0,1]) with Gumbel noise (batch x L*K) at tau: the
 * gradient of the SUM over the batch of (BCE + KL) is written into grads (overwritten), or with
 * accumulate added to it as the separately computed gradient would be added, element by element
 * (needs batch <= GSVAE_MAX_CHUNK_ROWS).
 * straight_through: forward one-hot(argmax(logits + g)), backward through the soft sample.
 * gumbel_unrelaxed != NULL: also the unrelaxed loss with one-hot(argmax(logits + g')) from
 * the same encoder output (no gradient). sums[GSVAE_METRIC_*] are added to. */
void cpu_model_forward_backward(cpu_model *model, const gsvae_real *params, gsvae_real *grads, const gsvae_real *x,
                                int batch, const gsvae_real *gumbel, gsvae_real tau, bool straight_through,
                                const gsvae_real *gumbel_unrelaxed, bool accumulate, double *sums);
/* Unrelaxed loss only (test loss): adds sums[RELAXED]=total, [BCE], [KL], [SAMPLES]. */
void cpu_model_unrelaxed_loss(cpu_model *model, const gsvae_real *params, const gsvae_real *x, int batch,
                              const gsvae_real *gumbel, double *sums);
/* The encoder's logits (batch x L*K), after the final ReLU when layout->logits_relu. */
void cpu_model_encode(cpu_model *model, const gsvae_real *params, const gsvae_real *x, int batch,
                      gsvae_real *logits);
/* The decoder's pre-sigmoid output (batch x D) for latents z (batch x L*K). */
void cpu_model_decode(cpu_model *model, const gsvae_real *params, const gsvae_real *z, int batch,
                      gsvae_real *output_logits);

/* PyTorch's Adam (no weight decay, no amsgrad) at step t (1-based), gradients divided by
 * grad_divisor first. */
void cpu_adam_update(gsvae_real *params, gsvae_real *exp_avg, gsvae_real *exp_avg_sq, const gsvae_real *grads,
                     size_t count, long t, double lr, double beta1, double beta2, double eps, double grad_divisor);
