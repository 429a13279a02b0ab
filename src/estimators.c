/* The estimators' settings from the config, their per-sample noise rows (the CPU backend's and the
 * tests'; the GPU draws the same numbers in kernels.cu). */
#include <math.h>
#include "gsvae/estimators.h"
#include "gsvae/rng.h"

gsvae_estimator_settings gsvae_estimator_settings_of(const gsvae_config *config) {
  gsvae_estimator kind = config->train_estimator;
  return (gsvae_estimator_settings){
      .kind = kind,
      .decoder_samples = kind == GSVAE_ESTIMATOR_SF ? config->train_estimator_samples : 1,
      .conditional_draws = kind == GSVAE_ESTIMATOR_GRMCK ? config->train_estimator_samples : 0,
      .gap = config->train_estimator_gap,
      .baseline = config->train_sf_baseline,
  };
}

void gsvae_estimator_fill_noise(float *row, const gsvae_estimator_settings *settings, uint32_t latent_width,
                                uint64_t seed, uint64_t step, uint64_t sample) {
  uint32_t gumbels = (uint32_t)settings->decoder_samples * latent_width;
  gsvae_fill_gumbel(row, gumbels, seed, GSVAE_NOISE_GUMBEL, step, sample);
  uint32_t exponentials = (uint32_t)settings->conditional_draws * latent_width;
  if (exponentials == 0) return;
  float *draws = row + gumbels;
  gsvae_fill_uniform(draws, exponentials, seed, GSVAE_NOISE_GUMBEL_CONDITIONAL, step, sample);
  for (uint32_t i = 0; i < exponentials; i++) draws[i] = -logf(draws[i]);
}
