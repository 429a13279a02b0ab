/* The gradient estimators: one table of what each one is (its word, its paper, the samples it
 * takes, whether a gradient reaches tau), read by the config, the CLI and both backends. The
 * math is the backends' (src/cpu/latent.c, src/cuda/kernels.cu). */
#pragma once
#include <stdbool.h>

typedef enum {
  GSVAE_ESTIMATOR_GS,
  GSVAE_ESTIMATOR_ST,
  GSVAE_ESTIMATOR_ST_SOFTMAX,
  GSVAE_ESTIMATOR_GST,
  GSVAE_ESTIMATOR_GRMCK,
  GSVAE_ESTIMATOR_REINMAX,
  GSVAE_ESTIMATOR_SF,
  GSVAE_ESTIMATOR_COUNT
} gsvae_estimator;

typedef struct {
  const char *name;            /* train.estimator's word */
  const char *paper;
  /* train.estimator_samples counts, for sf, the one-hot samples decoded per input and, for grmck,
   * the conditional Gumbel draws; the others take none. */
  bool decodes_samples, conditional_draws;
  int default_samples;         /* `gsvae estimators` without ":N", for one that takes samples */
  bool tau_gradient;           /* a gradient reaches tau, so tau.learn can train it */
} gsvae_estimator_info;

/* The table's row of an estimator (which must be in range). */
const gsvae_estimator_info *gsvae_estimator_info_of(gsvae_estimator estimator);
/* The word of the estimator at `index`, NULL past the last (the config's list of words). */
const char *gsvae_estimator_word(int index);
/* Whether train.estimator_samples means anything to it. */
bool gsvae_estimator_takes_samples(gsvae_estimator estimator);
/* The words of those for which `which` holds (NULL: all), joined by `separator`, into out. */
void gsvae_estimator_list(char *out, int size, const char *separator, bool (*which)(gsvae_estimator));
