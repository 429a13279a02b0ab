/* Writes what the PyTorch parity check (parity_check.py) needs: the seed layout's initial
 * parameters, 20 steps of batches and Gumbel noise as the CPU backend should draw them, and what
 * the backend computed from them (step 0's gradient sums; every step's losses; the parameters
 * after 20 Adam steps), for gs and st at tau 1 and 0.5. The data are synthetic images. */
#include <hdf5.h>
#include <hdf5_hl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gsvae/backend.h"
#include "gsvae/check.h"
#include "gsvae/rng.h"
#include "gsvae/runfile.h"

#define STEPS 20
#define BATCH 100
#define IMAGES (STEPS * BATCH + 37)

static void write_floats(hid_t loc, const char *name, int rank, const hsize_t *dims, const float *data) {
  h5Check(H5LTmake_dataset_float(loc, name, rank, dims, data));
}

/* Synthetic images, about half the pixels black like MNIST's, from their own noise purpose. */
static void make_dataset(gsvae_dataset *data) {
  data->count = IMAGES, data->rows = 28, data->cols = 28, data->dim = 784;
  data->pixels = mallocCheck((size_t)IMAGES * 784);
  data->labels = callocCheck(IMAGES, 1);
  float u[784];
  for (int i = 0; i < IMAGES; i++) {
    gsvae_fill_uniform(u, 784, 99, GSVAE_NOISE_PRIOR, 0, (uint64_t)i);
    for (int p = 0; p < 784; p++) data->pixels[(size_t)i * 784 + p] = u[p] < 0.5f ? 0 : (uint8_t)(510 * (u[p] - 0.5f));
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUT.h5\n", argv[0]);
    return 2;
  }
  gsvae_config config;
  gsvae_config_defaults(&config);
  config.train_unrelaxed = true;
  config.data_binarize = GSVAE_BINARIZE_NONE;
  gsvae_dataset data;
  make_dataset(&data);
  gsvae_layout layout;
  gsvae_layout_build(&layout, 784, &config);
  int width = config.model_latents * config.model_categories;
  size_t count = layout.param_count;
  float *initial = mallocCheck(count * sizeof(float)), *zeros = callocCheck(count, sizeof(float));
  float *params = mallocCheck(count * sizeof(float));
  gsvae_params_init(&layout, initial, config.train_seed);
  uint32_t *order = mallocCheck(IMAGES * sizeof(uint32_t));
  gsvae_epoch_permutation(order, IMAGES, config.train_seed, 0);

  hid_t file = h5Check(H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  int sizes[4] = {layout.input_dim, config.model_latents, config.model_categories, config.model_logits_relu};
  h5Check(H5LTset_attribute_int(file, "/", "input_latents_categories_logits_relu", sizes, 4));
  h5Check(H5LTset_attribute_int(file, "/", "hidden", config.model_hidden, config.model_hidden_count));
  double adam[4] = {config.train_lr, config.train_beta1, config.train_beta2, config.train_eps};
  h5Check(H5LTset_attribute_double(file, "/", "lr_beta1_beta2_eps", adam, 4));
  gsvae_tensors_h5_write(file, "params", &layout, initial);

  /* the inputs as the backend is meant to draw them, computed here independently of it */
  float *x = mallocCheck((size_t)STEPS * BATCH * 784 * sizeof(float));
  float *gumbel = mallocCheck((size_t)STEPS * BATCH * width * sizeof(float));
  float *gumbel_unrelaxed = mallocCheck((size_t)STEPS * BATCH * width * sizeof(float));
  for (int s = 0; s < STEPS; s++)
    for (int i = 0; i < BATCH; i++) {
      size_t row = (size_t)s * BATCH + i;
      const uint8_t *pixels = data.pixels + (size_t)order[row] * 784;
      for (int p = 0; p < 784; p++) x[row * 784 + p] = pixels[p] / 255.0f;
      gsvae_fill_gumbel(gumbel + row * width, width, config.train_seed, GSVAE_NOISE_GUMBEL, s, row);
      gsvae_fill_gumbel(gumbel_unrelaxed + row * width, width, config.train_seed, GSVAE_NOISE_GUMBEL_UNRELAXED, s, row);
    }
  hid_t inputs = h5Check(H5Gcreate2(file, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  hsize_t x_dims[3] = {STEPS, BATCH, 784}, noise_dims[3] = {STEPS, BATCH, (hsize_t)width};
  write_floats(inputs, "x", 3, x_dims, x);
  write_floats(inputs, "gumbel", 3, noise_dims, gumbel);
  write_floats(inputs, "gumbel_unrelaxed", 3, noise_dims, gumbel_unrelaxed);
  h5Check(H5Gclose(inputs));

  const struct { const char *name; gsvae_estimator estimator; float tau; } cases[] = {
      {"gs_tau1", GSVAE_ESTIMATOR_GS, 1.0f}, {"gs_tau0.5", GSVAE_ESTIMATOR_GS, 0.5f},
      {"st_tau1", GSVAE_ESTIMATOR_ST, 1.0f}, {"st_tau0.5", GSVAE_ESTIMATOR_ST, 0.5f}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    config.train_estimator = cases[c].estimator;
    gsvae_backend *backend = gsvae_cpu_backend_create(&config, &layout, &data, &data, BATCH, 1);
    backend->set_state(backend, initial, zeros, zeros);
    backend->begin_epoch(backend, 0, order);
    float losses[4][STEPS];
    hid_t group = h5Check(H5Gcreate2(file, cases[c].name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    for (int s = 0; s < STEPS; s++) {
      gsvae_step step = {.step = s, .epoch = 0, .batch_start = (long)s * BATCH, .global_count = BATCH,
                         .local_start = 0, .local_count = BATCH, .chunk_count = 1, .first_chunk = 0,
                         .local_chunks = 1, .tau = cases[c].tau};
      backend->forward_backward(backend, &step);
      size_t reduce_count;
      float *reduce = backend->reduce_buffer(backend, &reduce_count);
      const float *metrics = reduce + count;
      losses[0][s] = metrics[GSVAE_METRIC_RELAXED] / metrics[GSVAE_METRIC_SAMPLES];
      losses[1][s] = metrics[GSVAE_METRIC_UNRELAXED] / metrics[GSVAE_METRIC_SAMPLES];
      losses[2][s] = metrics[GSVAE_METRIC_BCE] / metrics[GSVAE_METRIC_SAMPLES];
      losses[3][s] = metrics[GSVAE_METRIC_KL] / metrics[GSVAE_METRIC_SAMPLES];
      if (s == 0) gsvae_tensors_h5_write(group, "grad_sums", &layout, reduce);
      backend->update(backend, &step);
    }
    gsvae_metric_sums sums;
    backend->read_metrics(backend, &sums);
    if (sums.skipped) fprintf(stderr, "parity_dump: %s: %ld non-finite steps were skipped\n", cases[c].name, sums.skipped);
    hsize_t steps_dims[1] = {STEPS};
    const char *names[4] = {"relaxed", "unrelaxed", "bce", "kl"};
    for (int k = 0; k < 4; k++) write_floats(group, names[k], 1, steps_dims, losses[k]);
    h5Check(H5LTset_attribute_float(file, cases[c].name, "tau", &cases[c].tau, 1));
    int straight_through = cases[c].estimator == GSVAE_ESTIMATOR_ST;
    h5Check(H5LTset_attribute_int(file, cases[c].name, "straight_through", &straight_through, 1));
    backend->get_state(backend, params, NULL, NULL);
    gsvae_tensors_h5_write(group, "final", &layout, params);
    h5Check(H5Gclose(group));
    backend->destroy(backend);
    printf("%s: relaxed %.4f -> %.4f, unrelaxed %.4f -> %.4f over %d steps\n", cases[c].name, losses[0][0],
           losses[0][STEPS - 1], losses[1][0], losses[1][STEPS - 1], STEPS);
  }
  h5Check(H5Fclose(file));
  gsvae_dataset_free(&data);
  free(initial), free(zeros), free(params), free(order), free(x), free(gumbel), free(gumbel_unrelaxed);
  return 0;
}
