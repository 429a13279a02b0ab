/* The latent sample of cpu_model.c on its own, so that the tests can look at it: the relaxed
 * Gumbel-Softmax sample, the straight-through one-hot forward, and their shared backward.
 * Rows of `groups` latent variables of `categories` entries each, row-major. */
#pragma once
#include "gsvae/cpu_model.h"

#define cpu_latent_sample GSVAE_CPU(cpu_latent_sample)
#define cpu_latent_sample_backward GSVAE_CPU(cpu_latent_sample_backward)

/* y = softmax((logits + gumbel) / tau) per group into soft; when one_hot != NULL, also
 * one_hot(argmax(logits + gumbel)) (the first maximum), the straight-through forward. */
void cpu_latent_sample(const gsvae_real *logits, const gsvae_real *gumbel, int groups, int categories, gsvae_real tau,
                       gsvae_real *soft, gsvae_real *one_hot);
/* grad_logits += J^T grad_sample / tau per group, J the softmax Jacobian at soft: the gradient
 * of both estimators (straight-through passes its upstream gradient through the soft sample). */
void cpu_latent_sample_backward(const gsvae_real *soft, const gsvae_real *grad_sample, int groups, int categories,
                                gsvae_real tau, gsvae_real *grad_logits);
