/* The estimators as the backends see them: the settings the model code needs (from the config)
 * and the layout of the noise each draws per sample, one row that the CPU (cpu/noise_rows.h), the
 * GPU and the tests share. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "core/config.h"
#include "core/noise.h"

typedef struct {
  gsvae_estimator kind;
  int decoder_samples;         /* one-hot samples decoded per input: sf's S, else 1 */
  int conditional_draws;       /* grmck's K conditional Gumbel draws, else 0 */
  double gap;                  /* gst's kappa */
  gsvae_sf_baseline baseline;  /* sf */
} gsvae_estimator_settings;

gsvae_estimator_settings gsvae_estimator_settings_of(const gsvae_config *config);

/* A sample's noise row: decoder_samples blocks of latent_width Gumbel draws (GUMBEL, index
 * s*width + e: block 0 is what gs and st always drew), then conditional_draws blocks of Exp(1)
 * draws -log u (GUMBEL_CONDITIONAL, index k*width + e). */
static inline size_t gsvae_estimator_noise_width(const gsvae_estimator_settings *settings, int latent_width) {
  return (size_t)(settings->decoder_samples + settings->conditional_draws) * latent_width;
}
/* The sf baseline's moving average over the flat buffer's (sum, weight): after a step whose mean
 * loss over the global batch was mean_loss, sum = decay sum + (1 - decay) mean_loss and weight =
 * decay weight + (1 - decay); the baseline is sum / weight (bias-corrected as Adam's moments), 0
 * before the first step. In double, stored in float; inline so that the CPU and a CUDA kernel
 * update it alike. */
GSVAE_HD static inline void gsvae_sf_baseline_update(float *state, double mean_loss, double decay) {
  state[0] = (float)(decay * state[0] + (1 - decay) * mean_loss);
  state[1] = (float)(decay * state[1] + (1 - decay));
}
