/* 20 free-running Adam steps of the model code built in double (-DGSVAE_REAL_DOUBLE), for
 * parity_trajectory.py to compare with PyTorch in float64: well conditioned where float32 is not,
 * since double rounding (1e-16) stays far below any ReLU or argmax margin over 20 steps. Writes
 * the initial parameters, the inputs, every step's relaxed and unrelaxed loss and the final
 * parameters of gs at tau 1 and st at tau 0.5 into OUT.h5. */
#include <hdf5.h>
#include <hdf5_hl.h>
#include <stdio.h>
#include <stdlib.h>
#include "model/backend.h"
#include "core/check.h"
#include "cpu/model_math.h"
#include "model/estimator_settings.h"
#include "train/runfile.h"
#include "synthetic_images.h"

#define STEPS 20
#define BATCH SYNTHETIC_BATCH

static void write_doubles(hid_t loc, const char *name, int rank, const hsize_t *dims, const double *data) {
  h5Check(H5LTmake_dataset_double(loc, name, rank, dims, data));
}

static double *widen(const float *values, size_t count) {
  double *wide = mallocCheck(count * sizeof(double));
  for (size_t i = 0; i < count; i++) wide[i] = values[i];
  return wide;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUT.h5\n", argv[0]);
    return 2;
  }
  gsvae_config config;
  gsvae_config_defaults(&config);
  gsvae_layout layout;
  gsvae_layout_build(&layout, 784, &config);
  int width = config.model_latents * config.model_categories;
  size_t count = layout.param_count;
  gsvae_dataset data;
  uint32_t *order = mallocCheck(SYNTHETIC_IMAGES * sizeof(uint32_t));
  synthetic_images(&data, order);
  float *initial = mallocCheck(count * sizeof(float));
  gsvae_params_init(&layout, initial, config.train_seed);

  hid_t file = h5Check(H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  gsvae_tensors_h5_write(file, "initial", &layout, initial);
  float *x = mallocCheck((size_t)STEPS * BATCH * 784 * sizeof(float));
  float *gumbel = mallocCheck((size_t)STEPS * BATCH * width * sizeof(float));
  float *gumbel_unrelaxed = mallocCheck((size_t)STEPS * BATCH * width * sizeof(float));
  for (int s = 0; s < STEPS; s++)
    synthetic_batch(&data, order, s, width, x + (size_t)s * BATCH * 784, gumbel + (size_t)s * BATCH * width,
                    gumbel_unrelaxed + (size_t)s * BATCH * width);
  hsize_t x_dims[3] = {STEPS, BATCH, 784}, noise_dims[3] = {STEPS, BATCH, (hsize_t)width};
  h5Check(H5LTmake_dataset_float(file, "x", 3, x_dims, x));
  h5Check(H5LTmake_dataset_float(file, "gumbel", 3, noise_dims, gumbel));
  h5Check(H5LTmake_dataset_float(file, "gumbel_unrelaxed", 3, noise_dims, gumbel_unrelaxed));
  double *x64 = widen(x, (size_t)STEPS * BATCH * 784), *gumbel64 = widen(gumbel, (size_t)STEPS * BATCH * width);
  double *unrelaxed64 = widen(gumbel_unrelaxed, (size_t)STEPS * BATCH * width);

  const struct { const char *name; gsvae_estimator kind; double tau; } cases[] = {
      {"gs_tau1", GSVAE_ESTIMATOR_GS, 1.0}, {"st_tau0.5", GSVAE_ESTIMATOR_ST, 0.5}};
  cpu_model *model = cpu_model_create(&layout, BATCH);
  double *params = mallocCheck(count * sizeof(double)), *grads = mallocCheck(count * sizeof(double));
  double *exp_avg = mallocCheck(count * sizeof(double)), *exp_avg_sq = mallocCheck(count * sizeof(double));
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    for (size_t i = 0; i < count; i++) params[i] = initial[i], exp_avg[i] = 0, exp_avg_sq[i] = 0;
    config.train_estimator = cases[c].kind;
    gsvae_estimator_settings estimator = gsvae_estimator_settings_of(&config);
    double losses[2][STEPS];
    for (int s = 0; s < STEPS; s++) {
      double sums[GSVAE_METRIC_SLOTS] = {0};
      cpu_model_forward_backward(model, params, grads, x64 + (size_t)s * BATCH * 784, BATCH,
                                 gumbel64 + (size_t)s * BATCH * width, &estimator, cases[c].tau,
                                 unrelaxed64 + (size_t)s * BATCH * width, false, sums);
      losses[0][s] = sums[GSVAE_METRIC_RELAXED] / BATCH;
      losses[1][s] = sums[GSVAE_METRIC_UNRELAXED] / BATCH;
      gsvae_optimizer_step scalars = gsvae_optimizer_step_at(&config, s + 1);
      cpu_optimizer_update(params, exp_avg, exp_avg_sq, grads, count, &scalars, BATCH);
    }
    hid_t group = h5Check(H5Gcreate2(file, cases[c].name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    hsize_t steps = STEPS, flat = count;
    write_doubles(group, "relaxed", 1, &steps, losses[0]);
    write_doubles(group, "unrelaxed", 1, &steps, losses[1]);
    write_doubles(group, "final_flat", 1, &flat, params);
    h5Check(H5LTset_attribute_double(file, cases[c].name, "tau", &cases[c].tau, 1));
    int straight_through = cases[c].kind == GSVAE_ESTIMATOR_ST;
    h5Check(H5LTset_attribute_int(file, cases[c].name, "straight_through", &straight_through, 1));
    h5Check(H5Gclose(group));
  }
  h5Check(H5Fclose(file));
  cpu_model_free(model);
  gsvae_dataset_free(&data);
  free(order), free(initial), free(x), free(gumbel), free(gumbel_unrelaxed), free(x64), free(gumbel64);
  free(unrelaxed64), free(params), free(grads), free(exp_avg), free(exp_avg_sq);
  return 0;
}
