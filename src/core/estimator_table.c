/* The estimator table (estimator_table.h). */
#include <stdio.h>
#include "core/estimator_table.h"

static const gsvae_estimator_info estimators[GSVAE_ESTIMATOR_COUNT] = {
    [GSVAE_ESTIMATOR_GS] = {.name = "gs", .paper = "Gumbel-Softmax sample (Jang et al. 2017)", .tau_gradient = true},
    [GSVAE_ESTIMATOR_ST] = {.name = "st", .paper = "straight-through Gumbel-Softmax (Jang et al. 2017)",
                            .tau_gradient = true},
    [GSVAE_ESTIMATOR_ST_SOFTMAX] = {.name = "st_softmax",
                                    .paper = "straight-through through softmax(logits/tau), no noise in it "
                                             "(Bengio et al. 2013)",
                                    .tau_gradient = true},
    [GSVAE_ESTIMATOR_GST] = {.name = "gst", .paper = "gapped straight-through (Fan et al. 2022)", .tau_gradient = true},
    [GSVAE_ESTIMATOR_GRMCK] = {.name = "grmck", .paper = "Gumbel-Rao Monte Carlo (Paulus et al. 2021)",
                               .conditional_draws = true, .default_samples = 10, .tau_gradient = true},
    /* reinmax's tau sits under a stop-gradient */
    [GSVAE_ESTIMATOR_REINMAX] = {.name = "reinmax", .paper = "ReinMax (Liu et al. 2023)"},
    /* sf uses no tau */
    [GSVAE_ESTIMATOR_SF] = {.name = "sf", .paper = "score function (REINFORCE) with a baseline",
                            .decodes_samples = true, .default_samples = 4},
};

const gsvae_estimator_info *gsvae_estimator_info_of(gsvae_estimator estimator) { return &estimators[estimator]; }

const char *gsvae_estimator_word(int index) {
  return index >= 0 && index < GSVAE_ESTIMATOR_COUNT ? estimators[index].name : NULL;
}

bool gsvae_estimator_takes_samples(gsvae_estimator estimator) {
  return estimators[estimator].decodes_samples || estimators[estimator].conditional_draws;
}

void gsvae_estimator_list(char *out, int size, const char *separator, bool (*which)(gsvae_estimator)) {
  int used = 0;
  out[0] = '\0';
  for (int e = 0; e < GSVAE_ESTIMATOR_COUNT && used < size; e++)
    if (!which || which((gsvae_estimator)e))
      used += snprintf(out + used, (size_t)(size - used), "%s%s", used ? separator : "", estimators[e].name);
}
