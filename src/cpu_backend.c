/* The CPU backend: parameters, Adam's moments and the reduce buffer in host memory; each step
 * gathers this rank's rows and draws their Gumbel noise from the counter-based generator, then
 * runs cpu_model.c. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "gsvae/backend.h"
#include "gsvae/check.h"
#include "gsvae/cpu_model.h"
#include "gsvae/estimators.h"
#include "gsvae/rng.h"

/* Test-set evaluation runs in chunks of at least this many images, whatever the local batch. */
#define EVAL_CHUNK 100

typedef struct {
  gsvae_backend base;            /* first, so that the vtable's pointer is the backend's */
  gsvae_config config;
  gsvae_layout layout;
  const gsvae_dataset *train, *test;
  int max_batch;                 /* rows the workspace holds: the local batch or EVAL_CHUNK */
  cpu_model *model;
  float *params, *exp_avg, *exp_avg_sq;
  float *reduce;                 /* param_count gradients, then GSVAE_METRIC_SLOTS sums */
  gsvae_estimator_settings estimator;
  size_t noise_width;            /* the estimator's draws per sample (estimators.h) */
  float *x, *noise, *gumbel, *gumbel_unrelaxed; /* noise: the estimator's rows; gumbel: evaluation's */
  uint32_t *order;               /* this epoch's order of the training set */
  gsvae_metric_sums metrics;
} cpu_backend;

static void cpu_set_state(gsvae_backend *base, const float *params, const float *exp_avg, const float *exp_avg_sq) {
  cpu_backend *backend = (cpu_backend *)base;
  size_t bytes = backend->layout.param_count * sizeof(float);
  if (params) memcpy(backend->params, params, bytes);
  if (exp_avg) memcpy(backend->exp_avg, exp_avg, bytes);
  if (exp_avg_sq) memcpy(backend->exp_avg_sq, exp_avg_sq, bytes);
}

static void cpu_get_state(gsvae_backend *base, float *params, float *exp_avg, float *exp_avg_sq) {
  cpu_backend *backend = (cpu_backend *)base;
  size_t bytes = backend->layout.param_count * sizeof(float);
  if (params) memcpy(params, backend->params, bytes);
  if (exp_avg) memcpy(exp_avg, backend->exp_avg, bytes);
  if (exp_avg_sq) memcpy(exp_avg_sq, backend->exp_avg_sq, bytes);
}

static void cpu_begin_epoch(gsvae_backend *base, long epoch, const uint32_t *order) {
  cpu_backend *backend = (cpu_backend *)base;
  memcpy(backend->order, order, (size_t)backend->train->count * sizeof(uint32_t));
}

static void cpu_forward_backward(gsvae_backend *base, const gsvae_step *step) {
  cpu_backend *backend = (cpu_backend *)base;
  const gsvae_config *config = &backend->config;
  int dim = backend->layout.input_dim;
  uint32_t latent_width = (uint32_t)(backend->layout.latents * backend->layout.categories);
  if (step->local_count > backend->max_batch)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "cpu backend: a slice of %d samples exceeds the %d it was made for",
                step->local_count, backend->max_batch);
  /* noise is keyed by the sample's place in the epoch's order, not by this rank's slice */
  for (int i = 0; i < step->local_count; i++) {
    long position = step->batch_start + step->local_start + i;
    gsvae_dataset_row(backend->train, (int)backend->order[position], config->data_binarize, config->train_seed,
                      step->step, backend->x + (size_t)i * dim);
    gsvae_estimator_fill_noise(backend->noise + i * backend->noise_width, &backend->estimator, latent_width,
                               config->train_seed, (uint64_t)step->step, (uint64_t)position);
    if (config->train_unrelaxed)
      gsvae_fill_gumbel(backend->gumbel_unrelaxed + (size_t)i * latent_width, latent_width, config->train_seed,
                        GSVAE_NOISE_GUMBEL_UNRELAXED, (uint64_t)step->step, (uint64_t)position);
  }
  double sums[GSVAE_METRIC_SLOTS] = {0};
  cpu_model_forward_backward(backend->model, backend->params, backend->reduce, backend->x, step->local_count,
                             backend->noise, &backend->estimator, step->tau,
                             config->train_unrelaxed ? backend->gumbel_unrelaxed : NULL, sums);
  for (int s = 0; s < GSVAE_METRIC_SLOTS; s++) backend->reduce[backend->layout.param_count + s] = (float)sums[s];
}

static float *cpu_reduce_buffer(gsvae_backend *base, size_t *count) {
  cpu_backend *backend = (cpu_backend *)base;
  *count = backend->layout.param_count + GSVAE_METRIC_SLOTS;
  return backend->reduce;
}

/* A float is inf or NaN when its exponent bits are all ones; an integer OR vectorizes. */
GSVAE_WIDE_LOOP
static bool all_finite(const float *values, size_t count) {
  uint32_t bad = 0;
  for (size_t i = 0; i < count; i++) {
    uint32_t bits;
    memcpy(&bits, values + i, sizeof bits);
    bad |= (bits & 0x7f800000u) == 0x7f800000u;
  }
  return !bad;
}

static void cpu_update(gsvae_backend *base, const gsvae_step *step) {
  cpu_backend *backend = (cpu_backend *)base;
  const gsvae_config *config = &backend->config;
  size_t params = backend->layout.param_count;
  const float *metrics = backend->reduce + params;
  backend->metrics.steps++;
  if (!all_finite(backend->reduce, params + GSVAE_METRIC_SLOTS)) {
    backend->metrics.skipped++;
    backend->metrics.bad_streak++;
    return;
  }
  backend->metrics.bad_streak = 0;
  cpu_adam_update(backend->params, backend->exp_avg, backend->exp_avg_sq, backend->reduce, params, step->step + 1,
                  config->train_lr, config->train_beta1, config->train_beta2, config->train_eps,
                  (double)step->global_count);
  if (backend->layout.has_sf_baseline) /* after this step's gradient used the old value */
    gsvae_sf_baseline_update(backend->params + backend->layout.sf_baseline_offset,
                             metrics[GSVAE_METRIC_BCE] / metrics[GSVAE_METRIC_SAMPLES], config->train_sf_decay);
  backend->metrics.relaxed += metrics[GSVAE_METRIC_RELAXED];
  backend->metrics.bce += metrics[GSVAE_METRIC_BCE];
  backend->metrics.kl += metrics[GSVAE_METRIC_KL];
  backend->metrics.unrelaxed += metrics[GSVAE_METRIC_UNRELAXED];
  backend->metrics.samples += metrics[GSVAE_METRIC_SAMPLES];
}

/* The streak of non-finite steps carries over reads: it may span a log interval. */
static void cpu_read_metrics(gsvae_backend *base, gsvae_metric_sums *sums) {
  cpu_backend *backend = (cpu_backend *)base;
  *sums = backend->metrics;
  if (backend->layout.has_log_tau) sums->tau = expf(backend->params[backend->layout.log_tau_offset]);
  long bad_streak = backend->metrics.bad_streak;
  memset(&backend->metrics, 0, sizeof backend->metrics);
  backend->metrics.bad_streak = bad_streak;
}

static void cpu_evaluate(gsvae_backend *base, int start, int count, double *sums) {
  cpu_backend *backend = (cpu_backend *)base;
  const gsvae_config *config = &backend->config;
  int dim = backend->layout.input_dim;
  uint32_t latent_width = (uint32_t)(backend->layout.latents * backend->layout.categories);
  for (int chunk = 0; chunk < count; chunk += backend->max_batch) {
    int rows = count - chunk < backend->max_batch ? count - chunk : backend->max_batch;
    for (int i = 0; i < rows; i++) {
      int index = start + chunk + i;
      /* static binarization already happened on load; dynamic draws the step-0 sample */
      gsvae_dataset_row(backend->test, index, config->data_binarize, config->train_seed, 0,
                        backend->x + (size_t)i * dim);
      gsvae_fill_gumbel(backend->gumbel + (size_t)i * latent_width, latent_width, config->train_seed,
                        GSVAE_NOISE_EVAL, 0, (uint64_t)index);
    }
    cpu_model_unrelaxed_loss(backend->model, backend->params, backend->x, rows, backend->gumbel, sums);
  }
}

static void cpu_destroy(gsvae_backend *base) {
  cpu_backend *backend = (cpu_backend *)base;
  cpu_model_free(backend->model);
  free(backend->params);
  free(backend->exp_avg);
  free(backend->exp_avg_sq);
  free(backend->reduce);
  free(backend->x);
  free(backend->noise);
  free(backend->gumbel);
  free(backend->gumbel_unrelaxed);
  free(backend->order);
  free(backend);
}

gsvae_backend *gsvae_cpu_backend_create(const gsvae_config *config, const gsvae_layout *layout,
                                        const gsvae_dataset *train, const gsvae_dataset *test, int max_local_batch) {
  cpu_backend *backend = callocCheck(1, sizeof *backend);
  backend->base = (gsvae_backend){
      .name = "cpu",
      .set_state = cpu_set_state,
      .get_state = cpu_get_state,
      .begin_epoch = cpu_begin_epoch,
      .forward_backward = cpu_forward_backward,
      .reduce_buffer = cpu_reduce_buffer,
      .update = cpu_update,
      .read_metrics = cpu_read_metrics,
      .evaluate = cpu_evaluate,
      .destroy = cpu_destroy,
  };
  backend->config = *config;
  backend->layout = *layout;
  backend->train = train;
  backend->test = test;
  backend->max_batch = max_local_batch > EVAL_CHUNK ? max_local_batch : EVAL_CHUNK;
  backend->model = cpu_model_create(layout, backend->max_batch);
  size_t params = layout->param_count, latent_width = (size_t)layout->latents * layout->categories;
  backend->params = callocCheck(params, sizeof(float));
  backend->exp_avg = callocCheck(params, sizeof(float));
  backend->exp_avg_sq = callocCheck(params, sizeof(float));
  backend->reduce = callocCheck(params + GSVAE_METRIC_SLOTS, sizeof(float));
  backend->x = mallocCheck((size_t)backend->max_batch * layout->input_dim * sizeof(float));
  backend->estimator = gsvae_estimator_settings_of(config);
  backend->noise_width = gsvae_estimator_noise_width(&backend->estimator, (int)latent_width);
  backend->noise = mallocCheck((size_t)backend->max_batch * backend->noise_width * sizeof(float));
  backend->gumbel = mallocCheck((size_t)backend->max_batch * latent_width * sizeof(float));
  backend->gumbel_unrelaxed = mallocCheck((size_t)backend->max_batch * latent_width * sizeof(float));
  backend->order = callocCheck(train->count > 0 ? (size_t)train->count : 1, sizeof(uint32_t));
  return &backend->base;
}
