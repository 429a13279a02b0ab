/* The model's math on the CPU, the reference the GPU backend is checked against: forward and
 * backward of the trained objective under any estimator (latent.h), the unrelaxed
 * objective, encode/decode, and Adam/RAdam, over the flat buffers. Matrix products through CBLAS.
 * The trainer builds it in float; the gradient check builds the same source in double
 * (-DGSVAE_REAL_DOUBLE), whose functions carry a _f64 suffix so both can link together. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "model/estimator_settings.h"
#include "model/layout.h"
#include "model/optimizer_step.h"

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
#define cpu_learned_tau GSVAE_CPU(cpu_learned_tau)
#define cpu_model_unrelaxed_loss GSVAE_CPU(cpu_model_unrelaxed_loss)
#define cpu_model_encode GSVAE_CPU(cpu_model_encode)
#define cpu_model_decode GSVAE_CPU(cpu_model_decode)
#define cpu_optimizer_update GSVAE_CPU(cpu_optimizer_update)
#define cpu_model_layer_output GSVAE_CPU(cpu_model_layer_output)
#define cpu_model_decoder_input GSVAE_CPU(cpu_model_decoder_input)
#define cpu_model_unrelaxed_picks GSVAE_CPU(cpu_model_unrelaxed_picks)
#define cpu_model_decoder_gradient GSVAE_CPU(cpu_model_decoder_gradient)
#define cpu_model_encoder_gradient GSVAE_CPU(cpu_model_encoder_gradient)

cpu_model *cpu_model_create(const gsvae_layout *layout, int max_batch);
void cpu_model_free(cpu_model *model);

#ifndef GSVAE_REAL_DOUBLE
/* device.precision=bf16: from now on the model's matrix products read their operands rounded to
 * bfloat16 and accumulate in float (cpu/blas.h gsvae_gemm_bf16); all else stays float. Only where
 * gsvae_blas_bf16_missing() is NULL. */
void cpu_model_use_bf16_products(cpu_model *model);
#endif

/* The trained objective on x (batch x D in [0,1]) with the estimator's noise (batch rows of
 * gsvae_estimator_noise_width, estimator_settings.h) at tau (or exp(log_tau) from params when the layout
 * learns it): the estimator's gradient of the SUM over the batch of (BCE + KL) is written into
 * grads (overwritten; log_tau's entry too, the sf baseline's with 0), or with accumulate added to
 * it as the separately computed gradient would be added, element by element (needs the decoded
 * rows <= GSVAE_MAX_CHUNK_ROWS). For sf the BCE is the mean over the input's decoded samples.
 * gumbel_unrelaxed != NULL: also the unrelaxed loss with one-hot(argmax(logits + g')) from the
 * same encoder output (no gradient). sums[GSVAE_METRIC_*] are added to. */
void cpu_model_forward_backward(cpu_model *model, const gsvae_real *params, gsvae_real *grads, const gsvae_real *x,
                                int batch, const gsvae_real *noise, const gsvae_estimator_settings *estimator,
                                gsvae_real tau, const gsvae_real *gumbel_unrelaxed, bool accumulate, double *sums);
/* exp(log_tau) from params (layout->has_log_tau): the tau the step trains with, and its curve. */
gsvae_real cpu_learned_tau(const gsvae_layout *layout, const gsvae_real *params);
/* Unrelaxed loss only (test loss): adds sums[RELAXED]=total, [BCE], [KL], [SAMPLES]. */
void cpu_model_unrelaxed_loss(cpu_model *model, const gsvae_real *params, const gsvae_real *x, int batch,
                              const gsvae_real *gumbel, double *sums);
/* The encoder's logits (batch x L*K), after the final ReLU when layout->logits_relu. */
void cpu_model_encode(cpu_model *model, const gsvae_real *params, const gsvae_real *x, int batch,
                      gsvae_real *logits);
/* The decoder's pre-sigmoid output (batch x D) for latents z (batch x L*K). */
void cpu_model_decode(cpu_model *model, const gsvae_real *params, const gsvae_real *z, int batch,
                      gsvae_real *output_logits);

/* The two halves of a gradient assembled outside the trained objective (the exact and the
 * local-expectation gradients of the unrelaxed objective, reference_gradient.h).
 * Decoder: the decoder on `rows` latent rows z (rows x L*K, one-hot or not) against x's rows
 * (rows x D): row_loss[r] gets row r's BCE, and when row_weight != NULL, grads' decoder entries
 * get sum_r row_weight[r] times the gradient of row r's BCE added (the other entries untouched).
 * Encoder: grads' encoder entries get the gradient of the batch's summed KL(q || uniform) plus
 * that of a loss whose gradient in the logits (batch x L*K, after the logits' ReLU where the
 * layout has it) is grad_logits, added; returns the KL sum. */
void cpu_model_decoder_gradient(cpu_model *model, const gsvae_real *params, gsvae_real *grads, const gsvae_real *z,
                                const gsvae_real *x, int rows, const gsvae_real *row_weight, gsvae_real *row_loss);
double cpu_model_encoder_gradient(cpu_model *model, const gsvae_real *params, gsvae_real *grads, const gsvae_real *x,
                                  int batch, const gsvae_real *grad_logits);

/* The branch decisions of the last cpu_model_forward_backward, for tests that compare them with a
 * reference computed in other arithmetic: layer `layer`'s output (after its ReLU, batch x out),
 * the relaxed pass's decoder input (batch x L*K: the one-hot for the straight-through estimators)
 * and the unrelaxed sample's categories (batch x L). When the unrelaxed pass ran, the decoder's outputs are its own, not the relaxed
 * pass's (it reuses their memory). */
const gsvae_real *cpu_model_layer_output(const cpu_model *model, int layer);
const gsvae_real *cpu_model_decoder_input(const cpu_model *model);
const int *cpu_model_unrelaxed_picks(const cpu_model *model);

/* PyTorch's Adam or RAdam (no weight decay, no amsgrad), one step with step's scalars
 * (gsvae_optimizer_step_at), gradients divided by grad_divisor first. */
void cpu_optimizer_update(gsvae_real *params, gsvae_real *exp_avg, gsvae_real *exp_avg_sq, const gsvae_real *grads,
                          size_t count, const gsvae_optimizer_step *step, double grad_divisor);
