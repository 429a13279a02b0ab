/* The latent layer on the CPU: the table of estimators, each a forward (logits and noise to the
 * decoder's input) and a backward (the decoder's gradient, or for sf the per-sample loss, to the
 * logits' gradient), one latent group at a time; and the Gumbel-Softmax sample on its own for the
 * tests. Built in float and in double, as model_math.c. */
#pragma once
#include "cpu/model_math.h"
#include "model/estimator_settings.h"

#define cpu_latent_sample GSVAE_CPU(cpu_latent_sample)
#define cpu_latent_sample_backward GSVAE_CPU(cpu_latent_sample_backward)
#define cpu_argmax_perturbed GSVAE_CPU(cpu_argmax_perturbed)
#define cpu_estimator_of GSVAE_CPU(cpu_estimator_of)

/* y = softmax((logits + gumbel) / tau) per group into soft; when one_hot != NULL, also
 * one_hot(argmax(logits + gumbel)) (the first maximum), the straight-through forward. Rows of
 * `groups` latent variables of `categories` entries each, row-major. */
void cpu_latent_sample(const gsvae_real *logits, const gsvae_real *gumbel, int groups, int categories, gsvae_real tau,
                       gsvae_real *soft, gsvae_real *one_hot);
/* grad_logits += J^T grad_sample / tau per group, J the softmax Jacobian at soft: the gradient
 * of gs and st (straight-through passes its upstream gradient through the soft sample). */
void cpu_latent_sample_backward(const gsvae_real *soft, const gsvae_real *grad_sample, int groups, int categories,
                                gsvae_real tau, gsvae_real *grad_logits);
/* The first c maximising logits[c] + gumbel[c]: the Gumbel-max sample. */
int cpu_argmax_perturbed(const gsvae_real *logits, const gsvae_real *gumbel, int categories);

/* One latent group (K categories) of one input. */
typedef struct {
  const gsvae_real *logits;       /* K */
  const gsvae_real *gumbel;       /* decoder_samples blocks of K Gumbel draws, noise_stride apart */
  const gsvae_real *exponential;  /* grmck: conditional_draws blocks of K Exp(1) draws, noise_stride apart */
  size_t noise_stride;
  gsvae_real *z;                  /* the decoder's inputs: decoder_samples blocks of K, z_stride apart */
  size_t z_stride;
  gsvae_real *soft;               /* K: what the forward keeps for the backward */
  gsvae_real *scratch;            /* K: free between calls */
  int categories;
  gsvae_real tau;
  const gsvae_estimator_settings *settings;
} cpu_latent_group;

typedef struct {
  void (*forward)(const cpu_latent_group *group);
  /* grad_logits (K) += the estimate, *grad_log_tau += its derivative in log tau. upstream is the
   * loss's gradient in z (decoder_samples blocks, z_stride apart), or for sf the weight of each
   * decoded sample, (loss - baseline) / decoder_samples, one number per sample. */
  void (*backward)(const cpu_latent_group *group, const gsvae_real *upstream, gsvae_real *grad_logits,
                   gsvae_real *grad_log_tau);
} cpu_estimator;

const cpu_estimator *cpu_estimator_of(gsvae_estimator kind);
