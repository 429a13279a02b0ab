/* The flat parameter buffer's layout (state_dict names, shapes, offsets) and nn.Linear init. */
#include <math.h>
#include <stdio.h>
#include "model/layout.h"
#include "core/noise.h"

void gsvae_layout_build(gsvae_layout *layout, int input_dim, const gsvae_config *config) {
  int hidden_count = config->model_hidden_count;
  int latent_width = config->model_latents * config->model_categories;
  int sizes[2 * GSVAE_MAX_HIDDEN + 3], n = 0;
  sizes[n++] = input_dim;
  for (int i = 0; i < hidden_count; i++) sizes[n++] = config->model_hidden[i];
  sizes[n++] = latent_width;
  for (int i = hidden_count - 1; i >= 0; i--) sizes[n++] = config->model_hidden[i];
  sizes[n++] = input_dim;
  layout->input_dim = input_dim;
  layout->latents = config->model_latents;
  layout->categories = config->model_categories;
  layout->logits_relu = config->model_logits_relu;
  layout->layer_count = n - 1;
  layout->encoder_layers = hidden_count + 1;
  size_t offset = 0;
  layout->has_log_tau = config->tau_learn;
  layout->tau_init = config->tau_init;
  layout->log_tau_offset = offset;
  offset += layout->has_log_tau;
  layout->has_sf_baseline =
      config->train_estimator == GSVAE_ESTIMATOR_SF && config->train_sf_baseline == GSVAE_SF_BASELINE_EMA;
  layout->sf_baseline_offset = offset;
  offset += 2 * layout->has_sf_baseline;
  for (int l = 0; l < layout->layer_count; l++) {
    layout->in_features[l] = sizes[l];
    layout->out_features[l] = sizes[l + 1];
    layout->weight_offset[l] = offset;
    offset += (size_t)sizes[l] * sizes[l + 1];
    layout->bias_offset[l] = offset;
    offset += sizes[l + 1];
  }
  layout->param_count = offset;
}

int gsvae_layout_tensor_count(const gsvae_layout *layout) {
  return 2 * layout->layer_count + layout->has_log_tau + layout->has_sf_baseline;
}

void gsvae_layout_tensor(const gsvae_layout *layout, int tensor, char name[32], int *rank, size_t shape[2],
                         size_t *offset, size_t *length) {
  if (tensor >= 2 * layout->layer_count) {
    bool log_tau = layout->has_log_tau && tensor == 2 * layout->layer_count;
    snprintf(name, 32, "%s", log_tau ? "log_tau" : "sf_baseline");
    *rank = 1;
    shape[0] = log_tau ? 1 : 2;
    shape[1] = 1;
    *offset = log_tau ? layout->log_tau_offset : layout->sf_baseline_offset;
    *length = shape[0];
    return;
  }
  int layer = tensor / 2, is_bias = tensor % 2;
  snprintf(name, 32, "fc%d.%s", layer + 1, is_bias ? "bias" : "weight");
  shape[0] = layout->out_features[layer];
  shape[1] = is_bias ? 1 : layout->in_features[layer];
  *rank = is_bias ? 1 : 2;
  *offset = is_bias ? layout->bias_offset[layer] : layout->weight_offset[layer];
  *length = shape[0] * shape[1];
}

void gsvae_params_init(const gsvae_layout *layout, float *params, uint64_t seed) {
  if (layout->has_log_tau) params[layout->log_tau_offset] = (float)log(layout->tau_init);
  if (layout->has_sf_baseline) params[layout->sf_baseline_offset] = params[layout->sf_baseline_offset + 1] = 0;
  for (int t = 0; t < 2 * layout->layer_count; t++) {
    char name[32];
    int rank;
    size_t shape[2], offset, length;
    gsvae_layout_tensor(layout, t, name, &rank, shape, &offset, &length);
    float bound = 1.0f / sqrtf((float)layout->in_features[t / 2]);
    gsvae_fill_uniform(params + offset, (uint32_t)length, seed, GSVAE_NOISE_INIT, 0, (uint64_t)t);
    for (size_t i = 0; i < length; i++) params[offset + i] = (2.0f * params[offset + i] - 1.0f) * bound;
  }
}
