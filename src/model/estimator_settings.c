/* The estimators' settings from the config (estimator_settings.h). */
#include "model/estimator_settings.h"

gsvae_estimator_settings gsvae_estimator_settings_of(const gsvae_config *config) {
  gsvae_estimator kind = config->train_estimator;
  return (gsvae_estimator_settings){
      .kind = kind,
      .decoder_samples = gsvae_estimator_info_of(kind)->decodes_samples ? config->train_estimator_samples : 1,
      .conditional_draws = gsvae_estimator_info_of(kind)->conditional_draws ? config->train_estimator_samples : 0,
      .gap = config->train_estimator_gap,
      .baseline = config->train_sf_baseline,
  };
}
