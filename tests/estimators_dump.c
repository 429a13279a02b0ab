/* Writes what the estimators' PyTorch parity check (estimators_parity.py) needs, for every
 * estimator beyond gs/st (and tau.learn): initial weights, each step's batch and noise as the
 * estimator's noise row is specified (estimator_settings.h), drawn here from the generator directly, and,
 * for each of STEPS steps of the CPU backend, the state it started from (parameters with log tau
 * and sf's moving average), its gradient sums and its losses, and the parameters after the last
 * step. A small model of ReinMax's 8 x 4 latent shape. */
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/backend.h"
#include "cpu/cpu_backend.h"
#include "core/check.h"
#include "model/estimator_settings.h"
#include "core/noise.h"
#include "cpu/noise_rows.h"
#include "train/runfile.h"

#define STEPS 5
#define BATCH 50
#define IMAGES (STEPS * BATCH)

typedef struct {
  const char *name;
  gsvae_estimator estimator;
  double tau;
  int samples;
  gsvae_sf_baseline baseline;
  bool learn_tau;
} parity_case;

static const parity_case cases[] = {
    {"st_softmax", GSVAE_ESTIMATOR_ST_SOFTMAX, 0.7, 1, GSVAE_SF_BASELINE_EMA, false},
    {"gst", GSVAE_ESTIMATOR_GST, 0.7, 1, GSVAE_SF_BASELINE_EMA, false},
    {"grmck", GSVAE_ESTIMATOR_GRMCK, 0.7, 8, GSVAE_SF_BASELINE_EMA, false},
    {"reinmax", GSVAE_ESTIMATOR_REINMAX, 1.3, 1, GSVAE_SF_BASELINE_EMA, false},
    {"sf_ema", GSVAE_ESTIMATOR_SF, 1.0, 1, GSVAE_SF_BASELINE_EMA, false},
    {"sf_loo", GSVAE_ESTIMATOR_SF, 1.0, 4, GSVAE_SF_BASELINE_LOO, false},
    {"gs_learn_tau", GSVAE_ESTIMATOR_GS, 0.8, 1, GSVAE_SF_BASELINE_EMA, true},
    {"grmck_learn_tau", GSVAE_ESTIMATOR_GRMCK, 0.6, 3, GSVAE_SF_BASELINE_EMA, true},
};

static void write_floats(hid_t loc, const char *name, int rank, const hsize_t *dims, const float *data) {
  h5Check(H5LTmake_dataset_float(loc, name, rank, dims, data));
}

/* Grey images from their own noise purpose. */
static void make_dataset(gsvae_dataset *data) {
  data->count = IMAGES, data->rows = 28, data->cols = 28, data->dim = 784;
  data->pixels = mallocCheck((size_t)IMAGES * 784);
  data->labels = callocCheck(IMAGES, 1);
  float u[784];
  for (int i = 0; i < IMAGES; i++) {
    gsvae_fill_uniform(u, 784, 7, GSVAE_NOISE_PRIOR, 1, (uint64_t)i);
    for (int p = 0; p < 784; p++) data->pixels[(size_t)i * 784 + p] = (uint8_t)(255 * u[p] * u[p]);
  }
}

/* Step s's noise for the case, as estimator_settings.h specifies it: gumbel (STEPS x BATCH x S x width)
 * and the conditional draws' uniforms (STEPS x BATCH x K x width), K = 0 but for grmck. */
static void draw_noise(const gsvae_config *config, int width, int decoder_samples, int draws, float *gumbel,
                       float *uniform) {
  for (int s = 0; s < STEPS; s++)
    for (int i = 0; i < BATCH; i++) {
      size_t row = (size_t)s * BATCH + i;
      gsvae_fill_gumbel(gumbel + row * decoder_samples * width, (uint32_t)(decoder_samples * width),
                        config->train_seed, GSVAE_NOISE_GUMBEL, s, row);
      if (draws)
        gsvae_fill_uniform(uniform + row * draws * width, (uint32_t)(draws * width), config->train_seed,
                           GSVAE_NOISE_GUMBEL_CONDITIONAL, s, row);
    }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUT.h5\n", argv[0]);
    return 2;
  }
  gsvae_config base;
  gsvae_config_defaults(&base);
  base.model_hidden[0] = 96, base.model_hidden[1] = 48, base.model_hidden_count = 2;
  base.model_latents = 8, base.model_categories = 4;
  base.model_logits_relu = false;
  base.train_unrelaxed = false;
  base.train_sf_decay = 0.9;
  base.data_binarize = GSVAE_BINARIZE_NONE;
  gsvae_dataset data;
  make_dataset(&data);
  int width = base.model_latents * base.model_categories;
  uint32_t *order = mallocCheck(IMAGES * sizeof(uint32_t));
  gsvae_epoch_permutation(order, IMAGES, base.train_seed, 0);

  hid_t file = h5Check(H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  int sizes[4] = {784, base.model_latents, base.model_categories, base.model_logits_relu};
  h5Check(H5LTset_attribute_int(file, "/", "input_latents_categories_logits_relu", sizes, 4));
  h5Check(H5LTset_attribute_int(file, "/", "hidden", base.model_hidden, base.model_hidden_count));
  double adam[5] = {base.train_lr, base.train_beta1, base.train_beta2, base.train_eps, base.train_sf_decay};
  h5Check(H5LTset_attribute_double(file, "/", "lr_beta1_beta2_eps_sf_decay", adam, 5));
  float *x = mallocCheck((size_t)IMAGES * 784 * sizeof(float));
  for (int row = 0; row < IMAGES; row++)
    for (int p = 0; p < 784; p++) x[(size_t)row * 784 + p] = data.pixels[(size_t)order[row] * 784 + p] / 255.0f;
  hsize_t x_dims[3] = {STEPS, BATCH, 784};
  write_floats(file, "x", 3, x_dims, x);

  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const parity_case *pc = &cases[c];
    gsvae_config config = base;
    config.train_estimator = pc->estimator;
    config.tau_init = pc->tau;
    config.tau_learn = pc->learn_tau;
    config.train_estimator_samples = pc->samples;
    config.train_sf_baseline = pc->baseline;
    gsvae_estimator_settings settings = gsvae_estimator_settings_of(&config);
    gsvae_layout layout;
    gsvae_layout_build(&layout, 784, &config);
    size_t count = layout.param_count;
    float *initial = mallocCheck(count * sizeof(float)), *zeros = callocCheck(count, sizeof(float));
    float *params = mallocCheck(count * sizeof(float));
    gsvae_params_init(&layout, initial, config.train_seed);

    hid_t group = h5Check(H5Gcreate2(file, pc->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    gsvae_tensors_h5_write(group, "initial", &layout, initial);
    int S = settings.decoder_samples, K = settings.conditional_draws;
    float *gumbel = mallocCheck((size_t)IMAGES * S * width * sizeof(float));
    float *uniform = mallocCheck(((size_t)IMAGES * K * width + 1) * sizeof(float));
    draw_noise(&config, width, S, K, gumbel, uniform);
    hsize_t gumbel_dims[4] = {STEPS, BATCH, (hsize_t)S, (hsize_t)width};
    write_floats(group, "gumbel", 4, gumbel_dims, gumbel);
    if (K) {
      hsize_t uniform_dims[4] = {STEPS, BATCH, (hsize_t)K, (hsize_t)width};
      write_floats(group, "conditional_uniform", 4, uniform_dims, uniform);
    }
    int ints[4] = {(int)pc->estimator, pc->samples, (int)pc->baseline, pc->learn_tau};
    h5Check(H5LTset_attribute_string(file, pc->name, "estimator", gsvae_estimator_info_of(pc->estimator)->name));
    h5Check(H5LTset_attribute_int(file, pc->name, "estimator_samples_baseline_learn_tau", ints, 4));
    double doubles[2] = {pc->tau, config.train_estimator_gap};
    h5Check(H5LTset_attribute_double(file, pc->name, "tau_gap", doubles, 2));

    gsvae_backend *backend = gsvae_cpu_backend_create(&config, &layout, &data, &data, BATCH, 1);
    backend->set_state(backend, initial, zeros, zeros);
    backend->begin_epoch(backend, 0, order);
    float losses[3][STEPS];
    for (int s = 0; s < STEPS; s++) {
      gsvae_step step = {.step = s, .epoch = 0, .batch_start = (long)s * BATCH, .global_count = BATCH,
                         .local_start = 0, .local_count = BATCH, .chunk_count = 1, .first_chunk = 0,
                         .local_chunks = 1, .tau = (float)pc->tau};
      /* the state this step starts from, so that the check computes the same step from it */
      char path[64];
      backend->get_state(backend, params, NULL, NULL);
      snprintf(path, sizeof path, "steps/%d/params", s);
      gsvae_tensors_h5_write(group, path, &layout, params);
      backend->forward_backward(backend, &step);
      size_t reduce_count;
      float *reduce = backend->reduce_buffer(backend, &reduce_count);
      const float *metrics = reduce + count;
      losses[0][s] = metrics[GSVAE_METRIC_RELAXED] / metrics[GSVAE_METRIC_SAMPLES];
      losses[1][s] = metrics[GSVAE_METRIC_BCE] / metrics[GSVAE_METRIC_SAMPLES];
      losses[2][s] = metrics[GSVAE_METRIC_KL] / metrics[GSVAE_METRIC_SAMPLES];
      snprintf(path, sizeof path, "steps/%d/grad_sums", s);
      gsvae_tensors_h5_write(group, path, &layout, reduce);
      backend->update(backend, &step);
    }
    gsvae_metric_read read;
    backend->read_metrics(backend, &read);
    if (read.sums.skipped)
      fprintf(stderr, "estimators_dump: %s: %lld non-finite steps were skipped\n", pc->name, read.sums.skipped);
    hsize_t steps_dims[1] = {STEPS};
    const char *names[3] = {"loss", "bce", "kl"};
    for (int k = 0; k < 3; k++) write_floats(group, names[k], 1, steps_dims, losses[k]);
    backend->get_state(backend, params, NULL, NULL);
    gsvae_tensors_h5_write(group, "final", &layout, params);
    printf("%-16s loss %.4f -> %.4f over %d steps\n", pc->name, losses[0][0], losses[0][STEPS - 1], STEPS);
    if (layout.has_log_tau) printf("%-16s tau %.6f -> %.6f\n", pc->name, pc->tau, exp(params[layout.log_tau_offset]));
    backend->destroy(backend);
    h5Check(H5Gclose(group));
    free(initial), free(zeros), free(params), free(gumbel), free(uniform);
  }
  h5Check(H5Fclose(file));
  gsvae_dataset_free(&data);
  free(order), free(x);
  return 0;
}
