/* One training step of the CPU backend from a given state, for the step-by-step PyTorch parity
 * check (parity_check.py): `parity_step OUT.h5 CASE STEP [STATE.h5]` loads parameters and the
 * optimizer's moments from STATE.h5's /after (or the init and zeros), runs global step STEP (the
 * optimizer's t is STEP + 1) of the seed layout
 * on synthetic images, and writes the step's inputs (drawn here independently of the backend),
 * its gradient sums and losses, the branch decisions of its forward pass (ReLU outputs,
 * straight-through and unrelaxed picks) and the state after the optimizer into OUT.h5. CASE is gs
 * or st and a tau, then _radam for RAdam instead of Adam: e.g. st_tau0.5, gs_tau1_radam. */
#include <hdf5.h>
#include <hdf5_hl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/backend.h"
#include "cpu/cpu_backend.h"
#include "core/check.h"
#include "cpu/model_math.h"
#include "model/estimator_settings.h"
#include "train/runfile.h"
#include "synthetic_images.h"

#define BATCH SYNTHETIC_BATCH

static void read_tensors(hid_t file, const char *group, const gsvae_layout *layout, float *flat) {
  for (int t = 0; t < gsvae_layout_tensor_count(layout); t++) {
    char name[32], path[128];
    int rank;
    size_t shape[2], offset, length;
    gsvae_layout_tensor(layout, t, name, &rank, shape, &offset, &length);
    snprintf(path, sizeof path, "%s/%s", group, name);
    h5Check(H5LTread_dataset_float(file, path, flat + offset));
  }
}

static void write_floats(hid_t loc, const char *name, int rank, const hsize_t *dims, const float *data) {
  h5Check(H5LTmake_dataset_float(loc, name, rank, dims, data));
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: %s OUT.h5 CASE STEP [STATE.h5]   (CASE: gs_tau1, st_tau0.5_radam, ...)\n", argv[0]);
    return 2;
  }
  gsvae_config config;
  gsvae_config_defaults(&config);
  config.train_unrelaxed = true;
  config.data_binarize = GSVAE_BINARIZE_NONE;
  bool straight_through = !strncmp(argv[2], "st_tau", 6);
  if (!straight_through && strncmp(argv[2], "gs_tau", 6) != 0) {
    fprintf(stderr, "parity_step: CASE '%s' is not gs_tau<T> or st_tau<T>\n", argv[2]);
    return 2;
  }
  config.train_estimator = straight_through ? GSVAE_ESTIMATOR_ST : GSVAE_ESTIMATOR_GS;
  char *rest;
  float tau = strtof(argv[2] + 6, &rest);
  if (!strcmp(rest, "_radam")) {
    config.train_optimizer = GSVAE_OPTIMIZER_RADAM;
  } else if (*rest) {
    fprintf(stderr, "parity_step: CASE '%s' ends in '%s', not in _radam or the tau\n", argv[2], rest);
    return 2;
  }
  int step = atoi(argv[3]);
  gsvae_dataset data;
  uint32_t *order = mallocCheck(SYNTHETIC_IMAGES * sizeof(uint32_t));
  synthetic_images(&data, order);
  gsvae_layout layout;
  gsvae_layout_build(&layout, 784, &config);
  int width = config.model_latents * config.model_categories;
  size_t count = layout.param_count;
  float *params = mallocCheck(count * sizeof(float)), *exp_avg = callocCheck(count, sizeof(float));
  float *exp_avg_sq = callocCheck(count, sizeof(float));
  if (argc == 5) {
    hid_t state = h5Check(H5Fopen(argv[4], H5F_ACC_RDONLY, H5P_DEFAULT));
    read_tensors(state, "after/params", &layout, params);
    read_tensors(state, "after/exp_avg", &layout, exp_avg);
    read_tensors(state, "after/exp_avg_sq", &layout, exp_avg_sq);
    h5Check(H5Fclose(state));
  } else {
    gsvae_params_init(&layout, params, config.train_seed);
  }

  /* the inputs as the backend is meant to draw them, computed here independently of it */
  float *x = mallocCheck((size_t)BATCH * 784 * sizeof(float));
  float *gumbel = mallocCheck((size_t)BATCH * width * sizeof(float));
  float *gumbel_unrelaxed = mallocCheck((size_t)BATCH * width * sizeof(float));
  synthetic_batch(&data, order, step, width, x, gumbel, gumbel_unrelaxed);

  /* first: it sets the BLAS thread count, which the products below must run under too */
  gsvae_backend *backend = gsvae_cpu_backend_create(&config, &layout, &data, &data, BATCH, 1);

  /* The same step straight through cpu_model on those inputs, for its branch decisions: once
   * without the unrelaxed pass (the relaxed pass's decoder outputs), once with it (its picks and
   * decoder outputs). Its gradients must equal the backend's to the bit: the backend drew these
   * inputs. */
  cpu_model *relaxed = cpu_model_create(&layout, BATCH), *unrelaxed = cpu_model_create(&layout, BATCH);
  float *model_grads = mallocCheck(count * sizeof(float));
  double model_sums[GSVAE_METRIC_SLOTS] = {0};
  gsvae_estimator_settings estimator = gsvae_estimator_settings_of(&config);
  cpu_model_forward_backward(relaxed, params, model_grads, x, BATCH, gumbel, &estimator, tau, NULL, false,
                             model_sums);
  cpu_model_forward_backward(unrelaxed, params, model_grads, x, BATCH, gumbel, &estimator, tau, gumbel_unrelaxed, false,
                             model_sums);

  backend->set_state(backend, params, exp_avg, exp_avg_sq);
  backend->begin_epoch(backend, 0, order);
  gsvae_step s = {.step = step, .epoch = 0, .batch_start = (long)step * BATCH, .global_count = BATCH,
                  .local_start = 0, .local_count = BATCH, .chunk_count = 1, .first_chunk = 0, .local_chunks = 1,
                  .tau = tau};
  backend->forward_backward(backend, &s);
  size_t reduce_count;
  float *reduce = backend->reduce_buffer(backend, &reduce_count);
  if (memcmp(reduce, model_grads, count * sizeof(float)) != 0) {
    fprintf(stderr, "parity_step: the backend's gradients differ from cpu_model's on the same inputs: it did not "
                    "draw the rows or noise of global step %d\n", step);
    return 1;
  }

  hid_t file = h5Check(H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  h5Check(H5Gclose(h5Check(H5Gcreate2(file, "decisions", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT))));
  double adam[4] = {config.train_lr, config.train_beta1, config.train_beta2, config.train_eps};
  h5Check(H5LTset_attribute_double(file, "/", "lr_beta1_beta2_eps", adam, 4));
  h5Check(H5LTset_attribute_float(file, "/", "tau", &tau, 1));
  int flags[4] = {straight_through, config.model_logits_relu, layout.encoder_layers, (int)config.train_optimizer};
  h5Check(H5LTset_attribute_int(file, "/", "straight_through_logits_relu_encoder_layers_radam", flags, 4));
  hsize_t x_dims[2] = {BATCH, 784}, noise_dims[2] = {BATCH, (hsize_t)width}, slots = GSVAE_METRIC_SLOTS;
  write_floats(file, "x", 2, x_dims, x);
  write_floats(file, "gumbel", 2, noise_dims, gumbel);
  write_floats(file, "gumbel_unrelaxed", 2, noise_dims, gumbel_unrelaxed);
  if (argc == 4) gsvae_tensors_h5_write(file, "initial", &layout, params);
  gsvae_tensors_h5_write(file, "grad_sums", &layout, reduce);
  write_floats(file, "metric_sums", 1, &slots, reduce + count);
  for (int l = 0; l < layout.layer_count - 1; l++) {
    char name[64];
    hsize_t dims[2] = {BATCH, (hsize_t)layout.out_features[l]};
    snprintf(name, sizeof name, "decisions/relaxed_layer%d", l + 1);
    write_floats(file, name, 2, dims, cpu_model_layer_output(relaxed, l));
    if (l < layout.encoder_layers) continue;
    snprintf(name, sizeof name, "decisions/unrelaxed_layer%d", l + 1);
    write_floats(file, name, 2, dims, cpu_model_layer_output(unrelaxed, l));
  }
  if (straight_through)
    write_floats(file, "decisions/straight_through", 2, noise_dims, cpu_model_decoder_input(relaxed));
  hsize_t pick_dims[2] = {BATCH, (hsize_t)config.model_latents};
  h5Check(H5LTmake_dataset_int(file, "decisions/unrelaxed_picks", 2, pick_dims, cpu_model_unrelaxed_picks(unrelaxed)));

  backend->update(backend, &s);
  gsvae_metric_read read;
  backend->read_metrics(backend, &read);
  if (read.sums.skipped) {
    fprintf(stderr, "parity_step: %s step %d was not finite\n", argv[2], step);
    return 1;
  }
  backend->get_state(backend, params, exp_avg, exp_avg_sq);
  gsvae_tensors_h5_write(file, "after/params", &layout, params);
  gsvae_tensors_h5_write(file, "after/exp_avg", &layout, exp_avg);
  gsvae_tensors_h5_write(file, "after/exp_avg_sq", &layout, exp_avg_sq);
  h5Check(H5Fclose(file));
  backend->destroy(backend);
  cpu_model_free(relaxed);
  cpu_model_free(unrelaxed);
  gsvae_dataset_free(&data);
  free(params), free(exp_avg), free(exp_avg_sq), free(order), free(x), free(gumbel), free(gumbel_unrelaxed);
  free(model_grads);
  return 0;
}
