/* The estimators' statistics on a latent space small enough to enumerate (2 latents x 3 categories,
 * a tiny model, in double): the exact gradient of the unrelaxed objective E_q[BCE] + KL by central
 * differences of its 9-term enumeration; `gsvae estimators`' references against it (the enumeration
 * to rounding, the local expectation unbiased and of less variance than sf); sf (both baselines)
 * unbiased for it within its standard error, a check that ST-GS's bias fails; GR-MCK's variance
 * falling with K and below ST-GS's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/backend.h"
#include "cpu/model_math.h"
#include "cpu/reference_gradient.h"
#include "model/estimator_settings.h"
#include "core/noise.h"
#include "cpu/noise_rows.h"
#include "expect.h"

#define BATCH 2
#define INPUT 6
#define LATENTS 2
#define CATEGORIES 3
#define WIDTH (LATENTS * CATEGORIES)
#define DRAWS 4000
#define BATCHES 20 /* batch means for the variance comparisons: DRAWS / BATCHES draws each */
/* Bonferroni: d <= 200 coordinates each |z| <= 4.5 fails a correct estimator with probability at
 * most d * 2 (1 - Phi(4.5)) = 200 * 6.8e-6 = 1.4e-3 (CLT: 4000 draws of a finite-variance gradient). */
#define Z_LIMIT 4.5
/* A variance difference counts when its batch-means t statistic (19 degrees of freedom) exceeds 3:
 * one-sided p = 0.004 that noise alone made it. */
#define T_LIMIT 3.0
#define TAU 1.0


typedef struct {
  gsvae_config config;
  gsvae_layout layout;
  double x[BATCH * INPUT];
  double *params;
  cpu_model *model;
} setting;

static double bce(const double *a, const double *x) {
  double total = 0;
  for (int p = 0; p < INPUT; p++) total += log1p(exp(-fabs(a[p]))) + fmax(a[p], 0) - x[p] * a[p];
  return total;
}

/* E_q[BCE(decoder(z))] + KL(q || uniform) summed over the batch, z over all 3^2 one-hot pairs. */
static double exact_objective(setting *st, const double *params) {
  double logits[BATCH * WIDTH], z[9 * WIDTH], a[9 * INPUT], total = 0;
  cpu_model_encode(st->model, params, st->x, BATCH, logits);
  memset(z, 0, sizeof z);
  for (int i = 0; i < 9; i++) z[i * WIDTH + i / 3] = z[i * WIDTH + CATEGORIES + i % 3] = 1;
  cpu_model_decode(st->model, params, z, 9, a);
  for (int b = 0; b < BATCH; b++) {
    double q[LATENTS][CATEGORIES];
    for (int j = 0; j < LATENTS; j++) {
      const double *l = logits + b * WIDTH + j * CATEGORIES;
      double norm = 0;
      for (int c = 0; c < CATEGORIES; c++) norm += exp(l[c]);
      for (int c = 0; c < CATEGORIES; c++) {
        q[j][c] = exp(l[c]) / norm;
        total += q[j][c] * log(CATEGORIES * q[j][c]);
      }
    }
    for (int i = 0; i < 9; i++) total += q[0][i / 3] * q[1][i % 3] * bce(a + i * INPUT, st->x + b * INPUT);
  }
  return total;
}

/* Central differences at two steps; they agree unless a ReLU kink lies between (then the
 * check says so rather than comparing with a wrong "exact" gradient). */
static void exact_gradient(setting *st, double *grad) {
  size_t count = st->layout.param_count;
  double worst = 0;
  for (size_t i = 0; i < count; i++) {
    double saved = st->params[i], fd[2];
    for (int k = 0; k < 2; k++) {
      double h = k ? 1e-4 : 1e-5;
      st->params[i] = saved + h;
      double plus = exact_objective(st, st->params);
      st->params[i] = saved - h;
      fd[k] = (plus - exact_objective(st, st->params)) / (2 * h);
    }
    st->params[i] = saved;
    grad[i] = fd[0];
    worst = fmax(worst, fabs(fd[0] - fd[1]) / fmax(fabs(fd[0]), 1e-3));
  }
  /* smooth: the two agree to O(h^2) ~ 1e-8; a kink would differ at O(1) */
  expect(worst <= 1e-6, "exact gradient: central differences at h = 1e-5 and 1e-4 agree", worst, 1e-6);
}

/* DRAWS gradients of the estimator (noise of step n for draw n) into draws (DRAWS x count). */
static void sample_gradients(setting *st, gsvae_estimator kind, int samples, gsvae_sf_baseline baseline,
                             double *draws) {
  gsvae_config config = st->config;
  config.train_estimator = kind;
  config.train_estimator_samples = samples;
  config.train_sf_baseline = baseline;
  gsvae_estimator_settings estimator = gsvae_estimator_settings_of(&config);
  size_t noise_width = gsvae_estimator_noise_width(&estimator, WIDTH), count = st->layout.param_count;
  double *noise = malloc(BATCH * noise_width * sizeof(double));
  float *row = malloc(noise_width * sizeof(float));
  cpu_model *model = cpu_model_create(&st->layout, BATCH);
  for (int n = 0; n < DRAWS; n++) {
    for (int b = 0; b < BATCH; b++) {
      gsvae_estimator_fill_noise(row, &estimator, WIDTH, 17, (uint64_t)n, (uint64_t)b);
      for (size_t i = 0; i < noise_width; i++) noise[b * noise_width + i] = row[i];
    }
    double sums[GSVAE_METRIC_SLOTS] = {0};
    cpu_model_forward_backward(model, st->params, draws + (size_t)n * count, st->x, BATCH, noise, &estimator, TAU,
                               NULL, false, sums);
  }
  cpu_model_free(model);
  free(noise), free(row);
}

/* DRAWS local-expectation gradients (reference_gradient.h), Gumbel noise of step n for draw n. */
static void sample_local_gradients(setting *st, double *draws) {
  cpu_reference *reference = cpu_reference_create(&st->layout, BATCH, false);
  double gumbel[BATCH * WIDTH];
  float row[WIDTH];
  for (int n = 0; n < DRAWS; n++) {
    for (int b = 0; b < BATCH; b++) {
      gsvae_fill_gumbel(row, WIDTH, 29, GSVAE_NOISE_GUMBEL, (uint64_t)n, (uint64_t)b);
      for (int i = 0; i < WIDTH; i++) gumbel[b * WIDTH + i] = row[i];
    }
    cpu_reference_local(reference, st->params, draws + (size_t)n * st->layout.param_count, st->x, BATCH, gumbel);
  }
  cpu_reference_free(reference);
}

/* The largest |mean - exact| / standard error over the coordinates. */
static double largest_z(const double *draws, const double *exact, size_t count) {
  double worst = 0;
  for (size_t i = 0; i < count; i++) {
    double mean = 0, square = 0;
    for (int n = 0; n < DRAWS; n++) mean += draws[(size_t)n * count + i];
    mean /= DRAWS;
    for (int n = 0; n < DRAWS; n++) square += pow(draws[(size_t)n * count + i] - mean, 2);
    double standard_error = sqrt(square / (DRAWS - 1) / DRAWS);
    if (standard_error > 0) worst = fmax(worst, fabs(mean - exact[i]) / standard_error);
    else if (mean != exact[i]) worst = INFINITY;
  }
  return worst;
}

/* Per batch of draws: the total variance of the coordinates [first, last) (the encoder's, where
 * the estimators differ; the decoder's gradient given D is the same for all). */
static void batch_variances(const double *draws, size_t count, size_t first, size_t last, double *variance) {
  int per_batch = DRAWS / BATCHES;
  for (int k = 0; k < BATCHES; k++) {
    variance[k] = 0;
    for (size_t i = first; i < last; i++) {
      double mean = 0, square = 0;
      for (int n = k * per_batch; n < (k + 1) * per_batch; n++) mean += draws[(size_t)n * count + i];
      mean /= per_batch;
      for (int n = k * per_batch; n < (k + 1) * per_batch; n++) square += pow(draws[(size_t)n * count + i] - mean, 2);
      variance[k] += square / (per_batch - 1);
    }
  }
}

/* Checks that variance a exceeds variance b: the batch-means t statistic of the paired difference. */
static void expect_larger(const char *what, const double *a, const double *b) {
  double mean = 0, square = 0, ratio = 0;
  for (int k = 0; k < BATCHES; k++) mean += (a[k] - b[k]) / BATCHES, ratio += b[k] / a[k] / BATCHES;
  for (int k = 0; k < BATCHES; k++) square += pow(a[k] - b[k] - mean, 2);
  double t = mean / sqrt(square / (BATCHES - 1) / BATCHES);
  char label[160];
  snprintf(label, sizeof label, "%s (t; variance ratio %.3f)", what, ratio);
  expect(t > T_LIMIT, label, t, T_LIMIT);
}

int main(void) {
  setting st;
  memset(&st, 0, sizeof st);
  gsvae_config_defaults(&st.config);
  st.config.model_latents = LATENTS, st.config.model_categories = CATEGORIES;
  st.config.model_hidden[0] = 5, st.config.model_hidden_count = 1;
  st.config.model_logits_relu = false;
  gsvae_layout_build(&st.layout, INPUT, &st.config);
  size_t count = st.layout.param_count;
  float *init = malloc(count * sizeof(float)), pixels[INPUT];
  gsvae_params_init(&st.layout, init, 23);
  st.params = malloc(count * sizeof(double));
  for (size_t i = 0; i < count; i++) st.params[i] = 3 * init[i]; /* larger weights: logits far from uniform */
  for (int b = 0; b < BATCH; b++) {
    gsvae_fill_uniform(pixels, INPUT, 23, GSVAE_NOISE_BINARIZE, 0, (uint64_t)b);
    for (int p = 0; p < INPUT; p++) st.x[b * INPUT + p] = pixels[p] < 0.5f ? 0 : 1;
  }
  st.model = cpu_model_create(&st.layout, 9);
  double *exact = malloc(count * sizeof(double)), *draws = malloc((size_t)DRAWS * count * sizeof(double));
  exact_gradient(&st, exact);
  printf("%zu parameters, %d draws each\n", count, DRAWS);

  size_t encoder_end = st.layout.weight_offset[st.layout.encoder_layers];
  /* The enumeration in reference_gradient.c against the central differences: both are the exact
   * gradient; the differences carry O(h^2) ~ 1e-10 truncation and eps f / h ~ 1e-10 rounding. */
  cpu_reference *reference = cpu_reference_create(&st.layout, BATCH, true);
  double *enumerated = malloc(count * sizeof(double)), worst = 0;
  cpu_reference_exact(reference, st.params, enumerated, st.x, BATCH);
  for (size_t i = 0; i < count; i++) worst = fmax(worst, fabs(enumerated[i] - exact[i]) / fmax(fabs(exact[i]), 1));
  expect(worst <= 1e-7, "reference by enumeration vs central differences (max relative)", worst, 1e-7);
  cpu_reference_free(reference);
  free(enumerated);
  sample_local_gradients(&st, draws);
  expect(largest_z(draws, exact, count) <= Z_LIMIT, "local-expectation reference: largest |bias| / standard error",
         largest_z(draws, exact, count), Z_LIMIT);
  double local_variance[BATCHES], sf_variance[BATCHES];
  batch_variances(draws, count, 0, encoder_end, local_variance);
  sample_gradients(&st, GSVAE_ESTIMATOR_SF, 4, GSVAE_SF_BASELINE_LOO, draws);
  batch_variances(draws, count, 0, encoder_end, sf_variance);
  expect_larger("local expectation has less encoder-gradient variance than sf (4, loo)", sf_variance, local_variance);

  /* sf's baseline state: the moving average is unset (weight 0), i.e. baseline 0 */
  sample_gradients(&st, GSVAE_ESTIMATOR_SF, 1, GSVAE_SF_BASELINE_EMA, draws);
  expect(largest_z(draws, exact, count) <= Z_LIMIT, "sf, 1 sample, no baseline: largest |bias| / standard error",
         largest_z(draws, exact, count), Z_LIMIT);
  sample_gradients(&st, GSVAE_ESTIMATOR_SF, 4, GSVAE_SF_BASELINE_LOO, draws);
  expect(largest_z(draws, exact, count) <= Z_LIMIT, "sf, 4 samples, leave-one-out: largest |bias| / standard error",
         largest_z(draws, exact, count), Z_LIMIT);
  /* the same check on a biased estimator must fail, or it shows nothing */
  sample_gradients(&st, GSVAE_ESTIMATOR_ST, 1, GSVAE_SF_BASELINE_EMA, draws);
  expect(largest_z(draws, exact, count) > Z_LIMIT, "st (biased): largest |bias| / standard error exceeds the limit",
         largest_z(draws, exact, count), Z_LIMIT);

  double variance[4][BATCHES];
  batch_variances(draws, count, 0, encoder_end, variance[0]);
  const int ks[3] = {1, 10, 100};
  for (int k = 0; k < 3; k++) {
    sample_gradients(&st, GSVAE_ESTIMATOR_GRMCK, ks[k], GSVAE_SF_BASELINE_EMA, draws);
    batch_variances(draws, count, 0, encoder_end, variance[k + 1]);
  }
  expect_larger("grmck K=10 has less encoder-gradient variance than st", variance[0], variance[2]);
  expect_larger("grmck K=10 has less encoder-gradient variance than K=1", variance[1], variance[2]);
  expect_larger("grmck K=100 has less encoder-gradient variance than K=10", variance[2], variance[3]);

  cpu_model_free(st.model);
  free(init), free(st.params), free(exact), free(draws);
  printf(failures ? "%d check(s) FAILED\n" : "all checks passed\n", failures);
  return failures ? 1 : 0;
}
