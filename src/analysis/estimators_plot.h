/* What `gsvae estimators` measures of one estimator at one temperature, shared by the command
 * (src/cli/cmd_estimators.c) and its picture (src/analysis/estimators_plot.c). */
#pragma once

/* The parameters a measure is over: all of them, or the encoder's (where the estimators differ:
 * given z, every estimator's decoder gradient is the same function). */
enum { ESTIMATOR_VIEW_ALL, ESTIMATOR_VIEW_ENCODER, ESTIMATOR_VIEWS };

typedef struct {
  char label[48];          /* "grmck:10" */
  double tau;
  double bias[ESTIMATOR_VIEWS];  /* |E g - g*| / |g*|, its square less the noise expected of it */
  double floor[ESTIMATOR_VIEWS]; /* the noise |mean - g*| has from finite draws, / |g*| */
  double sd[ESTIMATOR_VIEWS];    /* sqrt(E |g - E g|^2) / |g*| */
  double cosine[ESTIMATOR_VIEWS], cosine_se[ESTIMATOR_VIEWS]; /* mean over draws of cos(g, g*) */
  double cosine_of_mean[ESTIMATOR_VIEWS];                     /* cos(mean of the draws, g*) */
  double step_ms;          /* median time of one draw (the step's forward and backward) on rank 0 */
} estimator_measure;

/* The measures' encoder bias, sd and cosine against tau, one colour per label, into FILE.png or FILE.svg;
 * 0, or -1 with a message. */
int gsvae_plot_estimators(const estimator_measure *measures, int count, const char *title, const char *path,
                          char *err);
