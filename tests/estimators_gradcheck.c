/* Gradient checks of the estimators that are the gradient of a defined surrogate, on the model code
 * built in double: sf (moving-average and leave-one-out baselines) against central differences of
 * the score-function surrogate, mean_s [f(D_s) + stopgrad(loss_s - baseline_s) log q(D_s)] + KL, and
 * the gradient in log tau (tau.learn) against central differences of gs's relaxed objective. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/backend.h"
#include "cpu/latent.h"
#include "cpu/model_math.h"
#include "model/estimator_settings.h"
#include "core/noise.h"
#include "cpu/noise_rows.h"
#include "expect.h"

#define BATCH 3
#define INPUT 6
#define STEP 1e-5
/* Central differences of a smooth function in double: truncation ~STEP^2 f''' ~ 1e-10 and
 * cancellation ~1e-16 / STEP ~ 1e-11 relative, so 1e-6 leaves room for curvature yet catches any
 * wrong term (those are O(1) relative). */
#define TOLERANCE 1e-6


typedef struct {
  gsvae_config config;
  gsvae_layout layout;
  gsvae_estimator_settings estimator;
  double x[BATCH * INPUT];
  double *noise;                 /* BATCH rows of the estimator's noise */
  size_t noise_width;
  int *picked;                   /* sf: BATCH x S x L categories, fixed at the start */
  double *weights;               /* sf: BATCH x S stopgrad((loss - baseline) / S) at the start */
  cpu_model *model;
} problem;

static problem *problem_create(gsvae_estimator kind, gsvae_sf_baseline baseline, int samples, bool learn_tau) {
  problem *pb = calloc(1, sizeof *pb);
  gsvae_config *config = &pb->config;
  gsvae_config_defaults(config);
  config->model_latents = 2, config->model_categories = 3;
  config->model_hidden[0] = 5, config->model_hidden_count = 1;
  config->model_logits_relu = false;
  config->train_estimator = kind;
  config->train_sf_baseline = baseline;
  config->train_estimator_samples = samples;
  config->tau_learn = learn_tau;
  config->tau_init = 0.7;
  pb->estimator = gsvae_estimator_settings_of(config);
  gsvae_layout_build(&pb->layout, INPUT, config);
  int width = config->model_latents * config->model_categories;
  pb->noise_width = gsvae_estimator_noise_width(&pb->estimator, width);
  pb->noise = malloc(BATCH * pb->noise_width * sizeof(double));
  float row[4096], pixels[INPUT];
  for (int b = 0; b < BATCH; b++) {
    gsvae_estimator_fill_noise(row, &pb->estimator, (uint32_t)width, 5, 0, (uint64_t)b);
    for (size_t i = 0; i < pb->noise_width; i++) pb->noise[b * pb->noise_width + i] = row[i];
    gsvae_fill_uniform(pixels, INPUT, 5, GSVAE_NOISE_BINARIZE, 0, (uint64_t)b);
    for (int p = 0; p < INPUT; p++) pb->x[b * INPUT + p] = pixels[p];
  }
  pb->picked = calloc((size_t)BATCH * samples * config->model_latents, sizeof(int));
  pb->weights = calloc((size_t)BATCH * samples, sizeof(double));
  pb->model = cpu_model_create(&pb->layout, BATCH * samples);
  return pb;
}

static void problem_free(problem *pb) {
  cpu_model_free(pb->model);
  free(pb->noise), free(pb->picked), free(pb->weights), free(pb);
}

static double *initial_params(const problem *pb) {
  double *params = calloc(pb->layout.param_count, sizeof(double));
  float *init = calloc(pb->layout.param_count, sizeof(float));
  gsvae_params_init(&pb->layout, init, 3);
  for (size_t i = 0; i < pb->layout.param_count; i++) params[i] = init[i];
  free(init);
  return params;
}

static double bce(const double *a, const double *x) {
  double total = 0;
  for (int p = 0; p < INPUT; p++) total += log1p(exp(-fabs(a[p]))) + fmax(a[p], 0) - x[p] * a[p];
  return total;
}

/* log softmax(logits)[c] and KL(softmax(logits) || uniform) of one group, by their definitions. */
static double log_q(const double *logits, int categories, int c) {
  double norm = 0;
  for (int i = 0; i < categories; i++) norm += exp(logits[i]);
  return logits[c] - log(norm);
}

static double kl(const double *logits, int categories) {
  double total = 0;
  for (int c = 0; c < categories; c++) total += exp(log_q(logits, categories, c)) * (log_q(logits, categories, c) + log(categories));
  return total;
}

/* The score-function surrogate summed over the batch; with record, first fixes D_s and the weights
 * (loss - baseline) / S as the estimator forms them at these parameters. */
static double sf_surrogate(problem *pb, const double *params, bool record) {
  int latents = pb->layout.latents, categories = pb->layout.categories, width = latents * categories;
  int samples = pb->estimator.decoder_samples;
  double logits[BATCH * 64], z[64], a[INPUT], loss[16], total = 0;
  cpu_model_encode(pb->model, params, pb->x, BATCH, logits);
  for (int b = 0; b < BATCH; b++) {
    const double *l = logits + b * width;
    for (int j = 0; j < latents; j++) total += kl(l + j * categories, categories);
    double loss_sum = 0;
    for (int s = 0; s < samples; s++) {
      int *pick = pb->picked + ((size_t)b * samples + s) * latents;
      memset(z, 0, width * sizeof(double));
      for (int j = 0; j < latents; j++) {
        if (record) pick[j] = cpu_argmax_perturbed(l + j * categories, pb->noise + b * pb->noise_width + s * width + j * categories, categories);
        z[j * categories + pick[j]] = 1;
      }
      cpu_model_decode(pb->model, params, z, 1, a);
      loss_sum += loss[s] = bce(a, pb->x + b * INPUT);
      total += loss[s] / samples;
      double log_prob = 0;
      for (int j = 0; j < latents; j++) log_prob += log_q(l + j * categories, categories, pick[j]);
      if (!record) total += pb->weights[b * samples + s] * log_prob;
    }
    if (!record) continue;
    const gsvae_layout *layout = &pb->layout;
    for (int s = 0; s < samples; s++) {
      double baseline = pb->estimator.baseline == GSVAE_SF_BASELINE_LOO ? (loss_sum - loss[s]) / (samples - 1)
                                                                        : params[layout->sf_baseline_offset] / params[layout->sf_baseline_offset + 1];
      pb->weights[b * samples + s] = (loss[s] - baseline) / samples;
    }
  }
  return total;
}

/* gs's relaxed objective summed over the batch, tau = exp(log_tau) from params. */
static double gs_objective(problem *pb, const double *params) {
  int latents = pb->layout.latents, categories = pb->layout.categories, width = latents * categories;
  double logits[BATCH * 64], y[BATCH * 64], a[BATCH * INPUT], total = 0;
  double tau = exp(params[pb->layout.log_tau_offset]);
  cpu_model_encode(pb->model, params, pb->x, BATCH, logits);
  for (int b = 0; b < BATCH; b++)
    for (int j = 0; j < latents; j++) {
      const double *l = logits + b * width + j * categories, *g = pb->noise + b * pb->noise_width + j * categories;
      double norm = 0;
      total += kl(l, categories);
      for (int c = 0; c < categories; c++) norm += exp((l[c] + g[c]) / tau);
      for (int c = 0; c < categories; c++) y[b * width + j * categories + c] = exp((l[c] + g[c]) / tau) / norm;
    }
  cpu_model_decode(pb->model, params, y, BATCH, a);
  for (int b = 0; b < BATCH; b++) total += bce(a + b * INPUT, pb->x + b * INPUT);
  return total;
}

static double objective(problem *pb, const double *params) {
  return pb->estimator.kind == GSVAE_ESTIMATOR_SF ? sf_surrogate(pb, params, false) : gs_objective(pb, params);
}

static void check(const char *name, gsvae_estimator kind, gsvae_sf_baseline baseline, int samples, bool learn_tau) {
  problem *pb = problem_create(kind, baseline, samples, learn_tau);
  const gsvae_layout *layout = &pb->layout;
  double *params = initial_params(pb), *grads = calloc(layout->param_count, sizeof(double));
  if (layout->has_sf_baseline) params[layout->sf_baseline_offset] = 2.0, params[layout->sf_baseline_offset + 1] = 0.5;
  double sums[GSVAE_METRIC_SLOTS] = {0};
  cpu_model_forward_backward(pb->model, params, grads, pb->x, BATCH, pb->noise, &pb->estimator, 0.7, NULL, false, sums);
  if (kind == GSVAE_ESTIMATOR_SF) sf_surrogate(pb, params, true);
  double diff = 0, norm = 0, log_tau_fd = 0;
  for (size_t i = 0; i < layout->param_count; i++) {
    if (layout->has_sf_baseline && i >= layout->sf_baseline_offset && i < layout->sf_baseline_offset + 2) continue;
    double saved = params[i];
    params[i] = saved + STEP;
    double plus = objective(pb, params);
    params[i] = saved - STEP;
    double minus = objective(pb, params);
    params[i] = saved;
    double fd = (plus - minus) / (2 * STEP);
    diff += (grads[i] - fd) * (grads[i] - fd);
    norm += fd * fd;
    if (layout->has_log_tau && i == layout->log_tau_offset) log_tau_fd = fd;
  }
  char label[128];
  snprintf(label, sizeof label, "%s: every parameter's gradient vs central differences", name);
  expect(sqrt(diff / norm) <= TOLERANCE, label, sqrt(diff / norm), TOLERANCE);
  if (layout->has_log_tau) {
    double error = fabs(grads[layout->log_tau_offset] - log_tau_fd) / fabs(log_tau_fd);
    snprintf(label, sizeof label, "%s: log tau's gradient vs central differences", name);
    expect(error <= TOLERANCE, label, error, TOLERANCE);
  }
  if (layout->has_sf_baseline) {
    double baseline_grad = fabs(grads[layout->sf_baseline_offset]) + fabs(grads[layout->sf_baseline_offset + 1]);
    snprintf(label, sizeof label, "%s: the baseline's gradient is exactly 0 (Adam leaves it)", name);
    expect(baseline_grad == 0, label, baseline_grad, 0);
  }
  free(params), free(grads);
  problem_free(pb);
}

int main(void) {
  check("sf, moving-average baseline, 1 sample", GSVAE_ESTIMATOR_SF, GSVAE_SF_BASELINE_EMA, 1, false);
  check("sf, moving-average baseline, 3 samples", GSVAE_ESTIMATOR_SF, GSVAE_SF_BASELINE_EMA, 3, false);
  check("sf, leave-one-out baseline, 4 samples", GSVAE_ESTIMATOR_SF, GSVAE_SF_BASELINE_LOO, 4, false);
  check("gs, tau.learn", GSVAE_ESTIMATOR_GS, GSVAE_SF_BASELINE_EMA, 1, true);
  printf(failures ? "%d check(s) FAILED\n" : "all checks passed\n", failures);
  return failures ? 1 : 0;
}
