/* An estimator's noise row on the CPU (noise_rows.h). */
#include "cpu/noise_rows.h"

void gsvae_estimator_fill_noise(float *row, const gsvae_estimator_settings *settings, uint32_t latent_width,
                                uint64_t seed, uint64_t step, uint64_t sample) {
  uint32_t gumbels = (uint32_t)settings->decoder_samples * latent_width;
  gsvae_fill_gumbel(row, gumbels, seed, GSVAE_NOISE_GUMBEL, step, sample);
  uint32_t exponentials = (uint32_t)settings->conditional_draws * latent_width;
  if (exponentials == 0) return;
  float *draws = row + gumbels;
  gsvae_fill_uniform(draws, exponentials, seed, GSVAE_NOISE_GUMBEL_CONDITIONAL, step, sample);
  gsvae_exponential_from_uniform(draws, exponentials);
}
