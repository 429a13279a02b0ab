/* The model's shape and its one flat parameter buffer: layers are named views (PyTorch
 * state_dict names and shapes of the reference, fc1.weight 512x784 row-major, fc1.bias, ...),
 * in state_dict order. Init follows PyTorch's nn.Linear. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/config.h"

#define GSVAE_MAX_LAYERS (2 * GSVAE_MAX_HIDDEN + 2)

typedef struct {
  int input_dim;               /* D = 784 */
  int latents, categories;     /* L, K */
  int layer_count;             /* encoder hidden_count+1 layers, then decoder hidden_count+1 */
  int encoder_layers;          /* layers [0, encoder_layers) map x to logits */
  int in_features[GSVAE_MAX_LAYERS], out_features[GSVAE_MAX_LAYERS];
  size_t weight_offset[GSVAE_MAX_LAYERS], bias_offset[GSVAE_MAX_LAYERS];
  size_t param_count;          /* length of the flat buffer */
  bool logits_relu;
  /* Scalars beside the layers, at the front of the flat buffer (the GPU reduces the encoder's
   * part, which then includes them, after the latent layer's backward); none in the seed's setup. */
  bool has_log_tau;            /* tau.learn: log tau, trained with the rest */
  size_t log_tau_offset;
  double tau_init;             /* log tau's initial value is log(tau.init) */
  bool has_sf_baseline;        /* sf with the ema baseline: (sum, weight) of the moving average, whose */
  size_t sf_baseline_offset;   /* gradient is 0 (the optimizer leaves it), the backend's update sets it */
} gsvae_layout;

/* encoder D -> hidden[0] -> ... -> L*K, decoder L*K -> hidden[n-1] -> ... -> D */
void gsvae_layout_build(gsvae_layout *layout, int input_dim, const gsvae_config *config);

/* Tensors in state_dict order: 2 per layer (weight, bias), then "log_tau" (1) and "sf_baseline" (2)
 * when present. */
int gsvae_layout_tensor_count(const gsvae_layout *layout);
/* Name ("fc3.bias"), rank (1 or 2), shape, offset and length of tensor t. */
void gsvae_layout_tensor(const gsvae_layout *layout, int tensor, char name[32], int *rank, size_t shape[2],
                         size_t *offset, size_t *length);

/* nn.Linear's init: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)), from
 * (seed, INIT, step 0, sample = tensor, index = element); log_tau = log(tau.init), the baseline 0. */
void gsvae_params_init(const gsvae_layout *layout, float *params, uint64_t seed);
