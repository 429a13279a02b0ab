/* The model's math on the CPU over the flat buffers: encoder, Gumbel-Softmax / straight-through
 * sample, decoder, BCE + KL and their gradients, the unrelaxed objective, and Adam. The trainer
 * builds it in float; the gradient check builds it again with -DGSVAE_REAL_DOUBLE. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gsvae/backend.h"
#include "gsvae/check.h"
#include "gsvae/cpu_latent.h"
#include "gsvae/cpu_model.h"
#include "gsvae/cpu_rows.h"

#ifdef GSVAE_REAL_DOUBLE
#define gemm cblas_dgemm
#define real_exp exp
#define real_log log
#define real_sqrt sqrt
#define real_fabs fabs
#else
#define gemm cblas_sgemm
#define real_exp expf
#define real_log logf
#define real_sqrt sqrtf
#define real_fabs fabsf
#endif

struct cpu_model {
  gsvae_layout layout;
  int max_batch;
  gsvae_real *activations[GSVAE_MAX_LAYERS]; /* each layer's output, after its ReLU if it has one */
  gsvae_real *soft;          /* the relaxed sample y, batch x L*K */
  gsvae_real *one_hot;       /* the straight-through forward, batch x L*K */
  gsvae_real *grad_logits;   /* batch x L*K */
  gsvae_real *grad_a, *grad_b; /* batch x the widest layer: a layer's output and input gradients */
  gsvae_real *decoder_in_t;  /* the first decoder weight transposed, L*K x hidden: one-hot rows */
  gsvae_real *bias_sum;      /* the widest layer: a bias gradient formed apart before it is added */
  int *picked;               /* batch x L: categories of the unrelaxed sample */
};

static bool layer_has_relu(const gsvae_layout *layout, int layer) {
  if (layer == layout->layer_count - 1) return false;
  if (layer == layout->encoder_layers - 1) return layout->logits_relu;
  return true;
}

cpu_model *cpu_model_create(const gsvae_layout *layout, int max_batch) {
  cpu_model *model = callocCheck(1, sizeof *model);
  model->layout = *layout;
  model->max_batch = max_batch;
  size_t widest = 0, latent_width = (size_t)layout->latents * layout->categories;
  for (int l = 0; l < layout->layer_count; l++) {
    model->activations[l] = mallocCheck((size_t)max_batch * layout->out_features[l] * sizeof(gsvae_real));
    if ((size_t)layout->out_features[l] > widest) widest = layout->out_features[l];
    if ((size_t)layout->in_features[l] > widest) widest = layout->in_features[l];
  }
  model->soft = mallocCheck(max_batch * latent_width * sizeof(gsvae_real));
  model->one_hot = mallocCheck(max_batch * latent_width * sizeof(gsvae_real));
  model->grad_logits = mallocCheck(max_batch * latent_width * sizeof(gsvae_real));
  model->grad_a = mallocCheck(max_batch * widest * sizeof(gsvae_real));
  model->grad_b = mallocCheck(max_batch * widest * sizeof(gsvae_real));
  model->bias_sum = mallocCheck(widest * sizeof(gsvae_real));
  model->decoder_in_t =
      mallocCheck(latent_width * layout->out_features[layout->encoder_layers] * sizeof(gsvae_real));
  model->picked = mallocCheck((size_t)max_batch * layout->latents * sizeof(int));
  return model;
}

void cpu_model_free(cpu_model *model) {
  if (!model) return;
  for (int l = 0; l < model->layout.layer_count; l++) free(model->activations[l]);
  free(model->soft);
  free(model->one_hot);
  free(model->grad_logits);
  free(model->grad_a);
  free(model->grad_b);
  free(model->bias_sum);
  free(model->decoder_in_t);
  free(model->picked);
  free(model);
}

static void check_batch(const cpu_model *model, int batch) {
  if (batch < 0 || batch > model->max_batch)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "cpu_model: batch %d outside the workspace's [0, %d]", batch, model->max_batch);
}

/* out = in W^T + b, then ReLU; `v < 0 ? 0 : v` lets a NaN through so that the step is skipped. */
static void linear_forward(const gsvae_layout *layout, int layer, const gsvae_real *params, const gsvae_real *in,
                           int batch, gsvae_real *out) {
  int in_features = layout->in_features[layer], out_features = layout->out_features[layer];
  const gsvae_real *weight = params + layout->weight_offset[layer], *bias = params + layout->bias_offset[layer];
  if (batch == 0) return;
  gemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, out_features, in_features, 1, in, in_features, weight,
       in_features, 0, out, out_features);
  bool relu = layer_has_relu(layout, layer);
  for (int b = 0; b < batch; b++) {
    gsvae_real *row = out + (size_t)b * out_features;
    if (relu)
      for (int o = 0; o < out_features; o++) {
        gsvae_real v = row[o] + bias[o];
        row[o] = v < 0 ? 0 : v;
      }
    else
      for (int o = 0; o < out_features; o++) row[o] += bias[o];
  }
}

static void encoder_forward(cpu_model *model, const gsvae_real *params, const gsvae_real *x, int batch) {
  const gsvae_layout *layout = &model->layout;
  const gsvae_real *in = x;
  for (int l = 0; l < layout->encoder_layers; l++) {
    linear_forward(layout, l, params, in, batch, model->activations[l]);
    in = model->activations[l];
  }
}

/* Decoder layers after the first one; the output logits end in activations[layer_count-1]. */
static void decoder_forward_rest(cpu_model *model, const gsvae_real *params, int batch) {
  const gsvae_layout *layout = &model->layout;
  for (int l = layout->encoder_layers + 1; l < layout->layer_count; l++)
    linear_forward(layout, l, params, model->activations[l - 1], batch, model->activations[l]);
}

static void decoder_forward(cpu_model *model, const gsvae_real *params, const gsvae_real *z, int batch) {
  linear_forward(&model->layout, model->layout.encoder_layers, params, z, batch,
                 model->activations[model->layout.encoder_layers]);
  decoder_forward_rest(model, params, batch);
}

/* The decoder on one-hot latents: the first layer is the bias plus L rows of its transposed
 * weight, L*hidden additions per sample instead of an L*K*hidden product. */
static void decoder_forward_one_hot(cpu_model *model, const gsvae_real *params, const int *picked, int batch) {
  const gsvae_layout *layout = &model->layout;
  int layer = layout->encoder_layers, latents = layout->latents, categories = layout->categories;
  int in_features = layout->in_features[layer], out_features = layout->out_features[layer];
  const gsvae_real *weight = params + layout->weight_offset[layer], *bias = params + layout->bias_offset[layer];
  gsvae_real *weight_t = model->decoder_in_t;
  for (int o = 0; o < out_features; o++)
    for (int i = 0; i < in_features; i++) weight_t[(size_t)i * out_features + o] = weight[(size_t)o * in_features + i];
  bool relu = layer_has_relu(layout, layer);
  for (int b = 0; b < batch; b++) {
    gsvae_real *row = model->activations[layer] + (size_t)b * out_features;
    memcpy(row, bias, out_features * sizeof(gsvae_real));
    for (int j = 0; j < latents; j++) {
      const gsvae_real *column = weight_t + (size_t)(j * categories + picked[b * latents + j]) * out_features;
      for (int o = 0; o < out_features; o++) row[o] += column[o];
    }
    if (relu)
      for (int o = 0; o < out_features; o++) row[o] = row[o] < 0 ? 0 : row[o];
  }
  decoder_forward_rest(model, params, batch);
}

/* Sum over the batch of BCE(sigmoid(a), x) summed over pixels (cpu_bce_row); grad (if not NULL)
 * gets sigmoid(a) - x. */
static double bce_sum(const gsvae_real *a, const gsvae_real *x, int batch, int dim, gsvae_real *grad) {
  double total = 0;
  for (int b = 0; b < batch; b++)
    total += cpu_bce_row(a + (size_t)b * dim, x + (size_t)b * dim, dim, grad ? grad + (size_t)b * dim : NULL);
  return total;
}

/* KL(q || uniform) = sum q (log q + log K) of one group, q = softmax(logits) via log_softmax;
 * grad (if not NULL) gets its gradient q (log q + log K - KL). */
static gsvae_real kl_group(const gsvae_real *logits, int categories, gsvae_real *grad) {
  gsvae_real top = logits[0], sum = 0, kl = 0, log_k = real_log((gsvae_real)categories);
  for (int c = 1; c < categories; c++) top = logits[c] > top ? logits[c] : top;
  for (int c = 0; c < categories; c++) sum += real_exp(logits[c] - top);
  gsvae_real log_sum = real_log(sum);
  for (int c = 0; c < categories; c++) {
    gsvae_real log_q = logits[c] - top - log_sum;
    kl += real_exp(log_q) * (log_q + log_k);
  }
  if (grad)
    for (int c = 0; c < categories; c++) {
      gsvae_real log_q = logits[c] - top - log_sum;
      grad[c] = real_exp(log_q) * (log_q + log_k - kl);
    }
  return kl;
}

static int argmax_perturbed(const gsvae_real *logits, const gsvae_real *gumbel, int categories) {
  int best = 0;
  gsvae_real best_value = logits[0] + gumbel[0];
  for (int c = 1; c < categories; c++) {
    gsvae_real value = logits[c] + gumbel[c];
    if (value > best_value) best = c, best_value = value;
  }
  return best;
}

void cpu_latent_sample(const gsvae_real *logits, const gsvae_real *gumbel, int groups, int categories, gsvae_real tau,
                       gsvae_real *soft, gsvae_real *one_hot) {
  for (int group = 0; group < groups; group++) {
    const gsvae_real *l = logits + (size_t)group * categories, *g = gumbel + (size_t)group * categories;
    gsvae_real *y = soft + (size_t)group * categories;
    gsvae_real top = (l[0] + g[0]) / tau, sum = 0;
    for (int c = 0; c < categories; c++) {
      y[c] = (l[c] + g[c]) / tau;
      top = y[c] > top ? y[c] : top;
    }
    for (int c = 0; c < categories; c++) sum += y[c] = real_exp(y[c] - top);
    for (int c = 0; c < categories; c++) y[c] /= sum;
    if (one_hot) {
      gsvae_real *h = one_hot + (size_t)group * categories;
      memset(h, 0, categories * sizeof(gsvae_real));
      h[argmax_perturbed(l, g, categories)] = 1;
    }
  }
}

void cpu_latent_sample_backward(const gsvae_real *soft, const gsvae_real *grad_sample, int groups, int categories,
                                gsvae_real tau, gsvae_real *grad_logits) {
  for (int group = 0; group < groups; group++) {
    const gsvae_real *y = soft + (size_t)group * categories, *dy = grad_sample + (size_t)group * categories;
    gsvae_real *dl = grad_logits + (size_t)group * categories, dot = 0;
    for (int c = 0; c < categories; c++) dot += y[c] * dy[c];
    for (int c = 0; c < categories; c++) dl[c] += y[c] * (dy[c] - dot) / tau;
  }
}

/* KL summed over the batch's groups (gradient into grad_logits when not NULL) and, when gumbel
 * is not NULL, the categories of one_hot(argmax(logits + gumbel)) into model->picked. */
static double kl_and_pick(cpu_model *model, const gsvae_real *logits, int batch, const gsvae_real *gumbel,
                          gsvae_real *grad_logits) {
  int categories = model->layout.categories, groups = batch * model->layout.latents;
  double kl = 0;
  for (int group = 0; group < groups; group++) {
    size_t offset = (size_t)group * categories;
    kl += kl_group(logits + offset, categories, grad_logits ? grad_logits + offset : NULL);
    if (gumbel) model->picked[group] = argmax_perturbed(logits + offset, gumbel + offset, categories);
  }
  return kl;
}

/* Backward of layer `layer` given grad_out (its output's gradient, before its ReLU): the ReLU
 * mask (in place), the bias and weight gradients, and grad_in unless grad_in is NULL. accumulate:
 * the bias and weight gradients are added to what grads holds, one rounding per element as if
 * computed apart and added (the bias sum is formed apart; the weight product accumulates with
 * beta = 1, which rounds the same for K up to GSVAE_MAX_CHUNK_ROWS, tests/blas_rows.c). */
static void linear_backward(cpu_model *model, int layer, const gsvae_real *params, const gsvae_real *in,
                            const gsvae_real *out, gsvae_real *grad_out, int batch, gsvae_real *grads,
                            gsvae_real *grad_in, bool accumulate) {
  const gsvae_layout *layout = &model->layout;
  int in_features = layout->in_features[layer], out_features = layout->out_features[layer];
  gsvae_real *grad_weight = grads + layout->weight_offset[layer], *grad_bias = grads + layout->bias_offset[layer];
  gsvae_real *bias_sum = model->bias_sum;
  bool relu = layer_has_relu(layout, layer);
  memset(bias_sum, 0, out_features * sizeof(gsvae_real));
  for (int b = 0; b < batch; b++) {
    gsvae_real *d = grad_out + (size_t)b * out_features;
    const gsvae_real *o_row = out + (size_t)b * out_features;
    if (relu)
      for (int o = 0; o < out_features; o++) {
        d[o] = o_row[o] > 0 ? d[o] : 0;
        bias_sum[o] += d[o];
      }
    else
      for (int o = 0; o < out_features; o++) bias_sum[o] += d[o];
  }
  for (int o = 0; o < out_features; o++) grad_bias[o] = accumulate ? grad_bias[o] + bias_sum[o] : bias_sum[o];
  if (batch == 0) {
    if (!accumulate) memset(grad_weight, 0, (size_t)out_features * in_features * sizeof(gsvae_real));
    return;
  }
  gemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_features, in_features, batch, 1, grad_out, out_features, in,
       in_features, accumulate ? 1 : 0, grad_weight, in_features);
  if (grad_in)
    gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, in_features, out_features, 1, grad_out, out_features,
         params + layout->weight_offset[layer], in_features, 0, grad_in, in_features);
}

void cpu_model_forward_backward(cpu_model *model, const gsvae_real *params, gsvae_real *grads, const gsvae_real *x,
                                int batch, const gsvae_real *gumbel, gsvae_real tau, bool straight_through,
                                const gsvae_real *gumbel_unrelaxed, bool accumulate, double *sums) {
  check_batch(model, batch);
  const gsvae_layout *layout = &model->layout;
  int encoder_layers = layout->encoder_layers, last = layout->layer_count - 1, dim = layout->input_dim;
  int groups = batch * layout->latents, categories = layout->categories;
  encoder_forward(model, params, x, batch);
  const gsvae_real *logits = model->activations[encoder_layers - 1];
  double kl = kl_and_pick(model, logits, batch, gumbel_unrelaxed, model->grad_logits);
  cpu_latent_sample(logits, gumbel, groups, categories, tau, model->soft, straight_through ? model->one_hot : NULL);
  const gsvae_real *z = straight_through ? model->one_hot : model->soft;
  decoder_forward(model, params, z, batch);
  double bce = bce_sum(model->activations[last], x, batch, dim, model->grad_a);

  /* grad_a holds the current layer's output gradient; grad_b receives its input gradient. */
  gsvae_real *grad_out = model->grad_a, *grad_in = model->grad_b;
  for (int l = last; l >= 0; l--) {
    const gsvae_real *in = l == 0 ? x : l == encoder_layers ? z : model->activations[l - 1];
    linear_backward(model, l, params, in, model->activations[l], grad_out, batch, grads, l == 0 ? NULL : grad_in,
                    accumulate);
    if (l == encoder_layers) { /* grad_in is dL/dz: through the soft sample into dL/dlogits (+ KL's part) */
      cpu_latent_sample_backward(model->soft, grad_in, groups, categories, tau, model->grad_logits);
      grad_out = model->grad_logits;
      grad_in = model->grad_a;
    } else {
      gsvae_real *swap = grad_out;
      grad_out = grad_in;
      grad_in = swap == model->grad_logits ? model->grad_b : swap;
    }
  }
  sums[GSVAE_METRIC_RELAXED] += bce + kl;
  sums[GSVAE_METRIC_BCE] += bce;
  sums[GSVAE_METRIC_KL] += kl;
  sums[GSVAE_METRIC_SAMPLES] += batch;

  if (gumbel_unrelaxed) { /* the activations are free again: same weights, same logits, new sample */
    decoder_forward_one_hot(model, params, model->picked, batch);
    sums[GSVAE_METRIC_UNRELAXED] += bce_sum(model->activations[last], x, batch, dim, NULL) + kl;
  }
}

void cpu_model_unrelaxed_loss(cpu_model *model, const gsvae_real *params, const gsvae_real *x, int batch,
                              const gsvae_real *gumbel, double *sums) {
  check_batch(model, batch);
  const gsvae_layout *layout = &model->layout;
  encoder_forward(model, params, x, batch);
  double kl = kl_and_pick(model, model->activations[layout->encoder_layers - 1], batch, gumbel, NULL);
  decoder_forward_one_hot(model, params, model->picked, batch);
  double bce = bce_sum(model->activations[layout->layer_count - 1], x, batch, layout->input_dim, NULL);
  sums[GSVAE_METRIC_RELAXED] += bce + kl;
  sums[GSVAE_METRIC_BCE] += bce;
  sums[GSVAE_METRIC_KL] += kl;
  sums[GSVAE_METRIC_SAMPLES] += batch;
}

void cpu_model_encode(cpu_model *model, const gsvae_real *params, const gsvae_real *x, int batch,
                      gsvae_real *logits) {
  check_batch(model, batch);
  encoder_forward(model, params, x, batch);
  const gsvae_layout *layout = &model->layout;
  memcpy(logits, model->activations[layout->encoder_layers - 1],
         (size_t)batch * layout->latents * layout->categories * sizeof(gsvae_real));
}

void cpu_model_decode(cpu_model *model, const gsvae_real *params, const gsvae_real *z, int batch,
                      gsvae_real *output_logits) {
  check_batch(model, batch);
  decoder_forward(model, params, z, batch);
  const gsvae_layout *layout = &model->layout;
  memcpy(output_logits, model->activations[layout->layer_count - 1],
         (size_t)batch * layout->input_dim * sizeof(gsvae_real));
}

/* torch.optim.Adam's single-tensor step, operation for operation: the bias corrections in
 * double as Python computes them, the element math in the buffer's precision. The loop
 * vectorizes only under -fno-math-errno (sqrtf's errno path is a branch otherwise). */
/* An AVX2 copy beside the baseline one, picked when the program loads: two divisions and a square
 * root per parameter make this loop compute-bound at 4 lanes. Both copies round alike (IEEE
 * division and sqrt, and no FMA to contract into). */
GSVAE_WIDE_LOOP
void cpu_adam_update(gsvae_real *params, gsvae_real *exp_avg, gsvae_real *exp_avg_sq, const gsvae_real *grads,
                     size_t count, long t, double lr, double beta1, double beta2, double eps, double grad_divisor) {
  double bias_correction1 = 1 - pow(beta1, (double)t), bias_correction2 = 1 - pow(beta2, (double)t);
  gsvae_real step_size = (gsvae_real)(lr / bias_correction1), bc2_sqrt = (gsvae_real)sqrt(bias_correction2);
  gsvae_real b1 = (gsvae_real)beta1, b2 = (gsvae_real)beta2, one_minus_b1 = (gsvae_real)(1 - beta1),
             one_minus_b2 = (gsvae_real)(1 - beta2), epsilon = (gsvae_real)eps, divisor = (gsvae_real)grad_divisor;
  for (size_t i = 0; i < count; i++) {
    gsvae_real g = grads[i] / divisor;
    gsvae_real m = exp_avg[i] = b1 * exp_avg[i] + one_minus_b1 * g;
    gsvae_real v = exp_avg_sq[i] = b2 * exp_avg_sq[i] + one_minus_b2 * g * g;
    params[i] -= step_size * (m / (real_sqrt(v) / bc2_sqrt + epsilon));
  }
}
