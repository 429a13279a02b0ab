/* The model's math on the CPU over the flat buffers: encoder, Gumbel-Softmax / straight-through
 * sample, decoder, BCE + KL and their gradients, the unrelaxed objective, and the optimizer
 * (Adam, RAdam). The trainer builds it in float; the gradient check builds it again with
 * -DGSVAE_REAL_DOUBLE. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model/loss_sums.h"
#include "cpu/bf16.h"
#include "cpu/blas.h"
#include "core/check.h"
#include "cpu/latent.h"
#include "cpu/model_math.h"
#include "cpu/exp_log_rows.h"
#include "cpu/threads.h"

#ifdef GSVAE_REAL_DOUBLE
/* oneDNN has no double product: the double build (the tests' reference) takes OpenBLAS's whatever
 * GSVAE_BLAS is, through its CBLAS (tests/CMakeLists.txt links it). */
#include <cblas.h>
static void gemm(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double *a, int lda,
                 const double *b, int ldb, double beta, double *c, int ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha,
              a, lda, b, ldb, beta, c, ldc);
}
#define real_sqrt sqrt
#else
#define gemm gsvae_sgemm
#define real_sqrt sqrtf
#endif

/* Element-wise loops run split over the rank's BLAS threads (threads.h), each element written by
 * one range alone and every sum over rows formed afterwards in row order: the bits are those of
 * one thread. Below this many elements a range would cost more to hand out than to compute. */
#define MIN_RANGE_ELEMENTS 4096

static size_t min_rows_for(size_t row_elements) { return MIN_RANGE_ELEMENTS / (row_elements ? row_elements : 1) + 1; }

struct cpu_model {
  gsvae_layout layout;
  int max_batch;
  int rows;                  /* rows the decoder's buffers hold: max_batch x sf's samples per input */
  gsvae_real *activations[GSVAE_MAX_LAYERS]; /* each layer's output, after its ReLU if it has one */
  gsvae_real *soft;          /* what the estimator's forward keeps for its backward, batch x L*K */
  gsvae_real *group_kl;      /* batch x L: each group's KL, summed in order after the groups */
  gsvae_real *kl_log_q, *kl_q; /* batch x L*K: KL's log-softmax and softmax, a range's at its groups */
  gsvae_real *scratch;       /* batch x K: a range of inputs uses the row of its first input */
  gsvae_real *z;             /* the decoder's input, rows x L*K: sample s of input b in row s*batch + b */
  gsvae_real *row_loss;      /* BCE of each decoded row */
  gsvae_real *grad_logits;   /* batch x L*K */
  gsvae_real *grad_a, *grad_b; /* rows x the widest layer: a layer's output and input gradients */
  gsvae_real *decoder_in_t;  /* the first decoder weight transposed, L*K x hidden: one-hot rows */
  gsvae_real *bias_sum;      /* the widest layer: a bias gradient formed apart before it is added */
  int *picked;               /* batch x L: categories of the unrelaxed sample */
  /* bf16 products (cpu_model_use_bf16_products; the float build only): the parameters rounded at
   * each call's start, and the products' other operands rounded as they are used */
  bool bf16;
  uint16_t *params_bf16;
  uint16_t *operand_a, *operand_b; /* rows x the widest layer */
};

static bool layer_has_relu(const gsvae_layout *layout, int layer) {
  if (layer == layout->layer_count - 1) return false;
  if (layer == layout->encoder_layers - 1) return layout->logits_relu;
  return true;
}

static void *resize(void *buffer, size_t bytes) {
  void *grown = realloc(buffer, bytes ? bytes : 1);
  if (!grown) gsvae_abort(GSVAE_EXIT_RUNTIME, "cpu_model: out of memory growing a buffer to %zu bytes", bytes);
  return grown;
}

static void *aligned_rows(size_t bytes) {
  void *buffer = aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!buffer) gsvae_abort(GSVAE_EXIT_RUNTIME, "cpu_model: out of memory allocating %zu bytes", bytes);
  return buffer;
}

/* The row-sized buffers, for `rows` rows; they only grow (sf decodes several samples per input). */
static void reserve_rows(cpu_model *model, int rows) {
  if (rows <= model->rows) return;
  const gsvae_layout *layout = &model->layout;
  size_t widest = 0, latent_width = (size_t)layout->latents * layout->categories;
  for (int l = 0; l < layout->layer_count; l++) {
    model->activations[l] = resize(model->activations[l], (size_t)rows * layout->out_features[l] * sizeof(gsvae_real));
    if ((size_t)layout->out_features[l] > widest) widest = layout->out_features[l];
    if ((size_t)layout->in_features[l] > widest) widest = layout->in_features[l];
  }
  model->z = resize(model->z, rows * latent_width * sizeof(gsvae_real));
  model->row_loss = resize(model->row_loss, rows * sizeof(gsvae_real));
  model->grad_a = resize(model->grad_a, rows * widest * sizeof(gsvae_real));
  model->grad_b = resize(model->grad_b, rows * widest * sizeof(gsvae_real));
  model->bias_sum = resize(model->bias_sum, widest * sizeof(gsvae_real));
  if (model->bf16) { /* scratch: nothing to keep; on cache lines, as oneDNN's own buffers */
    free(model->operand_a);
    free(model->operand_b);
    model->operand_a = aligned_rows(rows * widest * sizeof(uint16_t));
    model->operand_b = aligned_rows(rows * widest * sizeof(uint16_t));
  }
  model->rows = rows;
}

cpu_model *cpu_model_create(const gsvae_layout *layout, int max_batch) {
  cpu_model *model = callocCheck(1, sizeof *model);
  model->layout = *layout;
  model->max_batch = max_batch;
  size_t latent_width = (size_t)layout->latents * layout->categories;
  reserve_rows(model, max_batch);
  model->soft = mallocCheck(max_batch * latent_width * sizeof(gsvae_real));
  model->group_kl = mallocCheck(max_batch * (size_t)layout->latents * sizeof(gsvae_real));
  model->kl_log_q = mallocCheck(max_batch * latent_width * sizeof(gsvae_real));
  model->kl_q = mallocCheck(max_batch * latent_width * sizeof(gsvae_real));
  model->scratch = mallocCheck(max_batch * (size_t)layout->categories * sizeof(gsvae_real));
  model->grad_logits = mallocCheck(max_batch * latent_width * sizeof(gsvae_real));
  model->decoder_in_t =
      mallocCheck(latent_width * layout->out_features[layout->encoder_layers] * sizeof(gsvae_real));
  model->picked = mallocCheck((size_t)max_batch * layout->latents * sizeof(int));
  return model;
}

void cpu_model_free(cpu_model *model) {
  if (!model) return;
  for (int l = 0; l < model->layout.layer_count; l++) free(model->activations[l]);
  free(model->soft);
  free(model->group_kl);
  free(model->kl_log_q);
  free(model->kl_q);
  free(model->scratch);
  free(model->z);
  free(model->row_loss);
  free(model->grad_logits);
  free(model->grad_a);
  free(model->grad_b);
  free(model->decoder_in_t);
  free(model->bias_sum);
  free(model->picked);
  free(model->params_bf16);
  free(model->operand_a);
  free(model->operand_b);
  free(model);
}

static void check_batch(const cpu_model *model, int batch) {
  if (batch < 0 || batch > model->max_batch)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "cpu_model: batch %d outside the workspace's [0, %d]", batch, model->max_batch);
}

#ifndef GSVAE_REAL_DOUBLE
void cpu_model_use_bf16_products(cpu_model *model) {
  model->bf16 = true;
  model->params_bf16 = aligned_rows(model->layout.param_count * sizeof(uint16_t));
  int rows = model->rows;
  model->rows = 0; /* reserve_rows sizes the operands */
  reserve_rows(model, rows);
}

typedef struct {
  const float *in;
  uint16_t *out;
} bf16_task;

static void round_range(void *context, size_t begin, size_t end) {
  bf16_task *task = context;
  gsvae_bf16_round(task->in + begin, task->out + begin, end - begin);
}

static void round_to_bf16(const float *in, uint16_t *out, size_t count) {
  bf16_task task = {in, out};
  gsvae_parallel_ranges(count, 8 * MIN_RANGE_ELEMENTS, round_range, &task);
}
#endif

/* A call's parameters, for its products: rounded once per call with bf16 products. */
static void take_params(cpu_model *model, const gsvae_real *params) {
#ifndef GSVAE_REAL_DOUBLE
  if (model->bf16) round_to_bf16(params, model->params_bf16, model->layout.param_count);
#else
  (void)model, (void)params;
#endif
}

/* C (m x n) = op(A) op(B), or with accumulate + C. With bf16 products A and B are read rounded to
 * bfloat16; a B inside params (a weight; params NULL otherwise) from the call's rounded copy. */
static void product(cpu_model *model, bool trans_a, bool trans_b, int m, int n, int k, const gsvae_real *a, int lda,
                    const gsvae_real *b, int ldb, const gsvae_real *params, bool accumulate, gsvae_real *c, int ldc) {
#ifndef GSVAE_REAL_DOUBLE
  if (model->bf16) {
    round_to_bf16(a, model->operand_a, (size_t)(trans_a ? k : m) * lda);
    const uint16_t *b_bf16 = model->operand_b;
    if (params)
      b_bf16 = model->params_bf16 + (b - params);
    else
      round_to_bf16(b, model->operand_b, (size_t)(trans_b ? n : k) * ldb);
    gsvae_gemm_bf16(trans_a, trans_b, m, n, k, model->operand_a, lda, b_bf16, ldb, accumulate, c, ldc);
    return;
  }
#endif
  (void)model, (void)params;
  gemm(trans_a, trans_b, m, n, k, 1, a, lda, b, ldb, accumulate ? 1 : 0, c, ldc);
}

typedef struct {
  const gsvae_real *bias;
  gsvae_real *out;
  int out_features;
  bool relu;
} bias_relu_task;

static void add_bias_relu_rows(void *context, size_t begin, size_t end) {
  bias_relu_task *task = context;
  int out_features = task->out_features;
  for (size_t b = begin; b < end; b++) {
    gsvae_real *row = task->out + b * out_features;
    if (task->relu)
      for (int o = 0; o < out_features; o++) {
        gsvae_real v = row[o] + task->bias[o];
        row[o] = v < 0 ? 0 : v;
      }
    else
      for (int o = 0; o < out_features; o++) row[o] += task->bias[o];
  }
}

/* out = in W^T + b, then ReLU; `v < 0 ? 0 : v` lets a NaN through so that the step is skipped. */
static void linear_forward(cpu_model *model, int layer, const gsvae_real *params, const gsvae_real *in, int batch,
                           gsvae_real *out) {
  const gsvae_layout *layout = &model->layout;
  int in_features = layout->in_features[layer], out_features = layout->out_features[layer];
  const gsvae_real *weight = params + layout->weight_offset[layer], *bias = params + layout->bias_offset[layer];
  if (batch == 0) return;
  product(model, false, true, batch, out_features, in_features, in, in_features, weight, in_features, params, false,
          out, out_features);
  bias_relu_task task = {bias, out, out_features, layer_has_relu(layout, layer)};
  gsvae_parallel_ranges((size_t)batch, min_rows_for((size_t)out_features), add_bias_relu_rows, &task);
}

static void encoder_forward(cpu_model *model, const gsvae_real *params, const gsvae_real *x, int batch) {
  const gsvae_layout *layout = &model->layout;
  const gsvae_real *in = x;
  for (int l = 0; l < layout->encoder_layers; l++) {
    linear_forward(model, l, params, in, batch, model->activations[l]);
    in = model->activations[l];
  }
}

/* Decoder layers after the first one; the output logits end in activations[layer_count-1]. */
static void decoder_forward_rest(cpu_model *model, const gsvae_real *params, int batch) {
  const gsvae_layout *layout = &model->layout;
  for (int l = layout->encoder_layers + 1; l < layout->layer_count; l++)
    linear_forward(model, l, params, model->activations[l - 1], batch, model->activations[l]);
}

static void decoder_forward(cpu_model *model, const gsvae_real *params, const gsvae_real *z, int batch) {
  linear_forward(model, model->layout.encoder_layers, params, z, batch,
                 model->activations[model->layout.encoder_layers]);
  decoder_forward_rest(model, params, batch);
}

typedef struct {
  cpu_model *model;
  const gsvae_real *bias;
  const int *picked;
  bool relu;
} one_hot_task;

static void one_hot_rows(void *context, size_t begin, size_t end) {
  one_hot_task *task = context;
  const gsvae_layout *layout = &task->model->layout;
  int layer = layout->encoder_layers, latents = layout->latents, categories = layout->categories;
  int out_features = layout->out_features[layer];
  for (size_t b = begin; b < end; b++) {
    gsvae_real *row = task->model->activations[layer] + b * out_features;
    memcpy(row, task->bias, out_features * sizeof(gsvae_real));
    for (int j = 0; j < latents; j++) {
      const gsvae_real *column =
          task->model->decoder_in_t + (size_t)(j * categories + task->picked[b * latents + j]) * out_features;
      for (int o = 0; o < out_features; o++) row[o] += column[o];
    }
    if (task->relu)
      for (int o = 0; o < out_features; o++) row[o] = row[o] < 0 ? 0 : row[o];
  }
}

typedef struct {
  const gsvae_real *weight;
  gsvae_real *weight_t;
  int in_features, out_features;
} transpose_task;

/* Rows [begin, end) of the transposed weight: one weight column each. */
static void transpose_rows(void *context, size_t begin, size_t end) {
  transpose_task *task = context;
  size_t in_features = (size_t)task->in_features, out_features = (size_t)task->out_features;
  for (size_t i = begin; i < end; i++)
    for (size_t o = 0; o < out_features; o++) task->weight_t[i * out_features + o] = task->weight[o * in_features + i];
}

/* The decoder on one-hot latents: the first layer is the bias plus L rows of its transposed
 * weight, L*hidden additions per sample instead of an L*K*hidden product. */
static void decoder_forward_one_hot(cpu_model *model, const gsvae_real *params, const int *picked, int batch) {
  const gsvae_layout *layout = &model->layout;
  int layer = layout->encoder_layers, latents = layout->latents;
  int in_features = layout->in_features[layer], out_features = layout->out_features[layer];
  const gsvae_real *weight = params + layout->weight_offset[layer], *bias = params + layout->bias_offset[layer];
  transpose_task transpose = {weight, model->decoder_in_t, in_features, out_features};
  gsvae_parallel_ranges((size_t)in_features, min_rows_for((size_t)out_features), transpose_rows, &transpose);
  one_hot_task task = {model, bias, picked, layer_has_relu(layout, layer)};
  gsvae_parallel_ranges((size_t)batch, min_rows_for((size_t)latents * out_features), one_hot_rows, &task);
  decoder_forward_rest(model, params, batch);
}

typedef struct {
  const gsvae_real *a, *x;
  int batch, dim, samples;
  gsvae_real *grad, *row_loss;
} bce_task;

static void bce_rows(void *context, size_t begin, size_t end) {
  bce_task *task = context;
  size_t dim = (size_t)task->dim;
  for (size_t r = begin; r < end; r++) {
    gsvae_real *grad = task->grad ? task->grad + r * dim : NULL;
    task->row_loss[r] = cpu_bce_row(task->a + r * dim, task->x + (r % task->batch) * dim, task->dim, grad);
    if (grad && task->samples > 1) /* the loss is the mean over an input's samples */
      for (size_t p = 0; p < dim; p++) grad[p] /= task->samples;
  }
}

/* BCE(sigmoid(a), x) summed over pixels (cpu_bce_row) of each of `rows` decoded rows into
 * model->row_loss, row r decoding input r % batch, and their sum in row order; grad (if not NULL)
 * gets sigmoid(a) - x over `samples`, the decoded samples per input. */
static double bce_sum(cpu_model *model, const gsvae_real *a, const gsvae_real *x, int batch, int rows, int samples,
                      int dim, gsvae_real *grad) {
  bce_task task = {a, x, batch, dim, samples, grad, model->row_loss};
  gsvae_parallel_ranges((size_t)rows, min_rows_for((size_t)dim), bce_rows, &task);
  double total = 0;
  for (int r = 0; r < rows; r++) total += model->row_loss[r];
  return total;
}

/* KL(q || uniform) = sum q (log q + log K) of each group in [begin, end) into group_kl, q =
 * softmax(logits) via log_softmax; grad (if not NULL) gets its gradient q (log q + log K - KL), q
 * kept from KL's own sum rather than exponentiated again. The range's exps and logs each go through
 * one array call (exp_log_rows.h: SLEEF's vector functions in float), its sums run in category order. */
static void kl_range(cpu_model *model, const gsvae_real *logits, size_t begin, size_t end, gsvae_real *grad) {
  int categories = model->layout.categories;
  size_t groups = end - begin, first = begin * categories, count = groups * categories;
  gsvae_real *log_q = model->kl_log_q + first, *q = model->kl_q + first, *group_value = model->group_kl + begin;
  for (size_t g = 0; g < groups; g++) {
    const gsvae_real *l = logits + first + g * categories;
    gsvae_real top = l[0];
    for (int c = 1; c < categories; c++) top = l[c] > top ? l[c] : top;
    for (int c = 0; c < categories; c++) log_q[g * categories + c] = l[c] - top;
  }
  memcpy(q, log_q, count * sizeof *q);
  cpu_exp_in_place(q, count);
  for (size_t g = 0; g < groups; g++) { /* the partition's sum, then its log, in group_value */
    gsvae_real sum = 0;
    for (int c = 0; c < categories; c++) sum += q[g * categories + c];
    group_value[g] = sum;
  }
  cpu_log_in_place(group_value, groups);
  for (size_t i = 0; i < count; i++) log_q[i] -= group_value[i / categories];
  memcpy(q, log_q, count * sizeof *q);
  cpu_exp_in_place(q, count);
  gsvae_real log_k = (gsvae_real)categories;
  cpu_log_in_place(&log_k, 1);
  for (size_t g = 0; g < groups; g++) {
    const gsvae_real *group_log_q = log_q + g * categories, *group_q = q + g * categories;
    gsvae_real kl = 0;
    for (int c = 0; c < categories; c++) kl += group_q[c] * (group_log_q[c] + log_k);
    group_value[g] = kl;
    if (grad)
      for (int c = 0; c < categories; c++)
        grad[first + g * categories + c] = group_q[c] * (group_log_q[c] + log_k - kl);
  }
}

/* KL summed over the batch's groups (gradient into grad_logits when not NULL) and, when gumbel
 * is not NULL, the categories of one_hot(argmax(logits + gumbel)) into model->picked. */
typedef struct {
  cpu_model *model;
  const gsvae_real *logits, *gumbel;
  gsvae_real *grad_logits;
} kl_task;

static void kl_groups(void *context, size_t begin, size_t end) {
  kl_task *task = context;
  int categories = task->model->layout.categories;
  kl_range(task->model, task->logits, begin, end, task->grad_logits);
  if (task->gumbel)
    for (size_t group = begin; group < end; group++) {
      size_t offset = group * categories;
      task->model->picked[group] = cpu_argmax_perturbed(task->logits + offset, task->gumbel + offset, categories);
    }
}

static double kl_and_pick(cpu_model *model, const gsvae_real *logits, int batch, const gsvae_real *gumbel,
                          gsvae_real *grad_logits) {
  int groups = batch * model->layout.latents;
  kl_task task = {model, logits, gumbel, grad_logits};
  gsvae_parallel_ranges((size_t)groups, min_rows_for((size_t)model->layout.categories), kl_groups, &task);
  double kl = 0;
  for (int group = 0; group < groups; group++) kl += model->group_kl[group];
  return kl;
}

typedef struct {
  gsvae_real *grad_out;
  const gsvae_real *out;
  gsvae_real *bias_sum;
  int batch, out_features;
  bool relu;
} relu_mask_task;

/* Columns [begin, end) of the ReLU's mask, and their bias gradients summed over rows in order. */
static void relu_mask_columns(void *context, size_t begin, size_t end) {
  relu_mask_task *task = context;
  size_t width = (size_t)task->out_features;
  gsvae_real *bias_sum = task->bias_sum;
  for (size_t o = begin; o < end; o++) bias_sum[o] = 0;
  for (int b = 0; b < task->batch; b++) {
    gsvae_real *d = task->grad_out + (size_t)b * width;
    const gsvae_real *o_row = task->out + (size_t)b * width;
    if (task->relu)
      for (size_t o = begin; o < end; o++) {
        d[o] = o_row[o] > 0 ? d[o] : 0;
        bias_sum[o] += d[o];
      }
    else
      for (size_t o = begin; o < end; o++) bias_sum[o] += d[o];
  }
}

/* Backward of layer `layer` given grad_out (its output's gradient, before its ReLU): the ReLU
 * mask (in place), the bias and weight gradients, and grad_in unless grad_in is NULL. accumulate:
 * the bias and weight gradients are added to what grads holds, one rounding per element as if
 * computed apart and added (the bias sum is formed apart; the weight product accumulates with
 * beta = 1, which rounds the same for K up to GSVAE_MAX_CHUNK_ROWS, src/cpu/blas.h). */
static void linear_backward(cpu_model *model, int layer, const gsvae_real *params, const gsvae_real *in,
                            const gsvae_real *out, gsvae_real *grad_out, int batch, gsvae_real *grads,
                            gsvae_real *grad_in, bool accumulate) {
  const gsvae_layout *layout = &model->layout;
  int in_features = layout->in_features[layer], out_features = layout->out_features[layer];
  gsvae_real *grad_weight = grads + layout->weight_offset[layer], *grad_bias = grads + layout->bias_offset[layer];
  gsvae_real *bias_sum = model->bias_sum;
  relu_mask_task task = {grad_out, out, bias_sum, batch, out_features, layer_has_relu(layout, layer)};
  gsvae_parallel_ranges((size_t)out_features, min_rows_for((size_t)batch), relu_mask_columns, &task);
  for (int o = 0; o < out_features; o++) grad_bias[o] = accumulate ? grad_bias[o] + bias_sum[o] : bias_sum[o];
  if (batch == 0) {
    if (!accumulate) memset(grad_weight, 0, (size_t)out_features * in_features * sizeof(gsvae_real));
    return;
  }
  product(model, true, false, out_features, in_features, batch, grad_out, out_features, in, in_features, NULL,
          accumulate, grad_weight, in_features);
  if (grad_in)
    product(model, false, false, batch, in_features, out_features, grad_out, out_features,
            params + layout->weight_offset[layer], in_features, params, false, grad_in, in_features);
}

/* sf's baseline for each decoded row: the moving average in the flat buffer, or the mean of the
 * input's other samples' losses (leave-one-out). */
static void sf_weights(const cpu_model *model, const gsvae_real *params, const gsvae_estimator_settings *estimator,
                       int batch, gsvae_real *weights) {
  int samples = estimator->decoder_samples;
  const gsvae_real *loss = model->row_loss;
  gsvae_real ema = 0;
  if (model->layout.has_sf_baseline) {
    const gsvae_real *state = params + model->layout.sf_baseline_offset;
    ema = state[1] > 0 ? state[0] / state[1] : 0; /* bias-corrected as Adam's moments (estimator_settings.h) */
  }
  for (int b = 0; b < batch; b++) {
    gsvae_real total = 0;
    for (int s = 0; s < samples; s++) total += loss[s * batch + b];
    for (int s = 0; s < samples; s++) {
      gsvae_real own = loss[s * batch + b];
      gsvae_real baseline = estimator->baseline == GSVAE_SF_BASELINE_LOO ? (total - own) / (samples - 1) : ema;
      weights[b * samples + s] = (own - baseline) / samples;
    }
  }
}

/* Points the estimator's view at latent j of sample b: its logits, noise (the Gumbel blocks, then
 * the Exp(1) blocks after the estimator's decoded samples), decoder input and kept state. */
static cpu_latent_group *point_group(cpu_latent_group *group, cpu_model *model, const gsvae_real *logits,
                                     const gsvae_real *noise, size_t noise_width, int b, int j) {
  size_t width = (size_t)model->layout.latents * model->layout.categories;
  size_t offset = (size_t)b * width + (size_t)j * group->categories;
  group->logits = logits + offset;
  group->gumbel = noise + b * noise_width + (size_t)j * group->categories;
  group->exponential = group->gumbel + (size_t)group->settings->decoder_samples * width;
  group->z = model->z + offset;
  group->soft = model->soft + offset;
  return group;
}

/* The estimator's forward and backward over inputs [begin, end), each range with its own view and
 * scratch. */
typedef struct {
  cpu_model *model;
  const cpu_estimator *latent;
  cpu_latent_group group;     /* the view's fixed part */
  const gsvae_real *logits, *noise;
  size_t noise_width;
  const gsvae_real *upstream; /* dL/dz, or for sf each decoded row's weight */
  gsvae_real grad_log_tau;    /* the first range's backward sum: all of it when one range ran */
} latent_task;

static void latent_forward_inputs(void *context, size_t begin, size_t end) {
  latent_task *task = context;
  cpu_latent_group group = task->group;
  group.scratch = task->model->scratch + begin * group.categories; /* ranges start at distinct inputs */
  for (size_t b = begin; b < end; b++)
    for (int j = 0; j < task->model->layout.latents; j++)
      task->latent->forward(point_group(&group, task->model, task->logits, task->noise, task->noise_width, (int)b, j));
}

static void latent_backward_inputs(void *context, size_t begin, size_t end) {
  latent_task *task = context;
  const gsvae_layout *layout = &task->model->layout;
  size_t width = (size_t)layout->latents * layout->categories;
  int samples = task->group.settings->decoder_samples;
  bool score_function = task->group.settings->kind == GSVAE_ESTIMATOR_SF;
  cpu_latent_group group = task->group;
  group.scratch = task->model->scratch + begin * group.categories; /* ranges start at distinct inputs */
  gsvae_real grad_log_tau = 0;
  for (size_t b = begin; b < end; b++)
    for (int j = 0; j < layout->latents; j++) {
      size_t offset = b * width + (size_t)j * layout->categories;
      const gsvae_real *upstream = score_function ? task->upstream + b * samples : task->upstream + offset;
      task->latent->backward(point_group(&group, task->model, task->logits, task->noise, task->noise_width, (int)b, j),
                             upstream, task->model->grad_logits + offset, &grad_log_tau);
    }
  if (begin == 0) task->grad_log_tau = grad_log_tau; /* whole only when one range ran: a learned tau */
}

gsvae_real cpu_learned_tau(const gsvae_layout *layout, const gsvae_real *params) {
  gsvae_real tau = params[layout->log_tau_offset];
  cpu_exp_in_place(&tau, 1);
  return tau;
}

void cpu_model_forward_backward(cpu_model *model, const gsvae_real *params, gsvae_real *grads, const gsvae_real *x,
                                int batch, const gsvae_real *noise, const gsvae_estimator_settings *estimator,
                                gsvae_real tau, const gsvae_real *gumbel_unrelaxed, bool accumulate, double *sums) {
  check_batch(model, batch);
  take_params(model, params);
  const gsvae_layout *layout = &model->layout;
  int encoder_layers = layout->encoder_layers, last = layout->layer_count - 1, dim = layout->input_dim;
  int latents = layout->latents, categories = layout->categories, width = latents * categories;
  int samples = estimator->decoder_samples, rows = batch * samples;
  bool score_function = estimator->kind == GSVAE_ESTIMATOR_SF;
  const cpu_estimator *latent = cpu_estimator_of(estimator->kind);
  size_t noise_width = gsvae_estimator_noise_width(estimator, width);
  if (layout->has_log_tau) tau = cpu_learned_tau(layout, params);
  reserve_rows(model, rows);

  encoder_forward(model, params, x, batch);
  const gsvae_real *logits = model->activations[encoder_layers - 1];
  double kl = kl_and_pick(model, logits, batch, gumbel_unrelaxed, model->grad_logits);
  latent_task task = {.model = model, .latent = latent, .logits = logits, .noise = noise, .noise_width = noise_width,
                      .group = {.noise_stride = (size_t)width, .z_stride = (size_t)batch * width,
                                .categories = categories, .tau = tau, .settings = estimator}};
  size_t min_inputs = min_rows_for((size_t)width * (samples + estimator->conditional_draws));
  gsvae_parallel_ranges((size_t)batch, min_inputs, latent_forward_inputs, &task);
  decoder_forward(model, params, model->z, rows);
  double bce = bce_sum(model, model->activations[last], x, batch, rows, samples, dim, model->grad_a);
  if (samples > 1) bce /= samples; /* the loss is the mean over an input's samples */

  /* grad_a holds the current layer's output gradient; grad_b receives its input gradient. */
  gsvae_real *grad_out = model->grad_a, *grad_in = model->grad_b;
  for (int l = last; l >= 0; l--) {
    const gsvae_real *in = l == 0 ? x : l == encoder_layers ? model->z : model->activations[l - 1];
    bool input_gradient = l != 0 && !(l == encoder_layers && score_function); /* sf needs no dL/dz */
    int layer_rows = l >= encoder_layers ? rows : batch;
    linear_backward(model, l, params, in, model->activations[l], grad_out, layer_rows, grads,
                    input_gradient ? grad_in : NULL, accumulate);
    if (l == encoder_layers) { /* grad_in is dL/dz: the estimator's backward into dL/dlogits (+ KL's part) */
      if (score_function) sf_weights(model, params, estimator, batch, grad_in);
      task.upstream = grad_in;
      /* a learned tau's gradient is one sum over every group in order: one range then */
      gsvae_parallel_ranges((size_t)batch, layout->has_log_tau ? SIZE_MAX : min_inputs, latent_backward_inputs, &task);
      grad_out = model->grad_logits;
      grad_in = model->grad_a;
    } else {
      gsvae_real *swap = grad_out;
      grad_out = grad_in;
      grad_in = swap == model->grad_logits ? model->grad_b : swap;
    }
  }
  if (layout->has_log_tau)
    grads[layout->log_tau_offset] = accumulate ? grads[layout->log_tau_offset] + task.grad_log_tau : task.grad_log_tau;
  if (layout->has_sf_baseline) grads[layout->sf_baseline_offset] = grads[layout->sf_baseline_offset + 1] = 0;
  sums[GSVAE_METRIC_RELAXED] += bce + kl;
  sums[GSVAE_METRIC_BCE] += bce;
  sums[GSVAE_METRIC_KL] += kl;
  sums[GSVAE_METRIC_SAMPLES] += batch;

  if (gumbel_unrelaxed) { /* the activations are free again: same weights, same logits, new sample */
    decoder_forward_one_hot(model, params, model->picked, batch);
    sums[GSVAE_METRIC_UNRELAXED] += bce_sum(model, model->activations[last], x, batch, batch, 1, dim, NULL) + kl;
  }
}

void cpu_model_unrelaxed_loss(cpu_model *model, const gsvae_real *params, const gsvae_real *x, int batch,
                              const gsvae_real *gumbel, double *sums) {
  check_batch(model, batch);
  take_params(model, params);
  const gsvae_layout *layout = &model->layout;
  encoder_forward(model, params, x, batch);
  double kl = kl_and_pick(model, model->activations[layout->encoder_layers - 1], batch, gumbel, NULL);
  decoder_forward_one_hot(model, params, model->picked, batch);
  double bce = bce_sum(model, model->activations[layout->layer_count - 1], x, batch, batch, 1, layout->input_dim, NULL);
  sums[GSVAE_METRIC_RELAXED] += bce + kl;
  sums[GSVAE_METRIC_BCE] += bce;
  sums[GSVAE_METRIC_KL] += kl;
  sums[GSVAE_METRIC_SAMPLES] += batch;
}

void cpu_model_encode(cpu_model *model, const gsvae_real *params, const gsvae_real *x, int batch,
                      gsvae_real *logits) {
  check_batch(model, batch);
  take_params(model, params);
  encoder_forward(model, params, x, batch);
  const gsvae_layout *layout = &model->layout;
  memcpy(logits, model->activations[layout->encoder_layers - 1],
         (size_t)batch * layout->latents * layout->categories * sizeof(gsvae_real));
}

void cpu_model_decode(cpu_model *model, const gsvae_real *params, const gsvae_real *z, int batch,
                      gsvae_real *output_logits) {
  check_batch(model, batch);
  take_params(model, params);
  decoder_forward(model, params, z, batch);
  const gsvae_layout *layout = &model->layout;
  memcpy(output_logits, model->activations[layout->layer_count - 1],
         (size_t)batch * layout->input_dim * sizeof(gsvae_real));
}

/* Layers high down to low, accumulated into grads, from grad_out (the gradient of layer high's
 * output: grad_a, grad_b or another buffer) through grad_a and grad_b in turn; layer low's input is
 * low_input, and its input gradient is not needed. */
static void backward_layers(cpu_model *model, const gsvae_real *params, gsvae_real *grads, int high, int low,
                            const gsvae_real *low_input, int rows, gsvae_real *grad_out) {
  gsvae_real *grad_in = grad_out == model->grad_a ? model->grad_b : model->grad_a;
  for (int l = high; l >= low; l--) {
    const gsvae_real *in = l == low ? low_input : model->activations[l - 1];
    linear_backward(model, l, params, in, model->activations[l], grad_out, rows, grads, l == low ? NULL : grad_in,
                    true);
    grad_out = grad_in;
    grad_in = grad_out == model->grad_a ? model->grad_b : model->grad_a;
  }
}

void cpu_model_decoder_gradient(cpu_model *model, const gsvae_real *params, gsvae_real *grads, const gsvae_real *z,
                                const gsvae_real *x, int rows, const gsvae_real *row_weight, gsvae_real *row_loss) {
  const gsvae_layout *layout = &model->layout;
  int first = layout->encoder_layers, last = layout->layer_count - 1, dim = layout->input_dim;
  reserve_rows(model, rows);
  take_params(model, params);
  decoder_forward(model, params, z, rows);
  for (int r = 0; r < rows; r++) {
    gsvae_real *grad_row = model->grad_a + (size_t)r * dim;
    row_loss[r] = cpu_bce_row(model->activations[last] + (size_t)r * dim, x + (size_t)r * dim, dim, grad_row);
    if (row_weight)
      for (int d = 0; d < dim; d++) grad_row[d] *= row_weight[r];
  }
  if (row_weight) backward_layers(model, params, grads, last, first, z, rows, model->grad_a);
}

double cpu_model_encoder_gradient(cpu_model *model, const gsvae_real *params, gsvae_real *grads, const gsvae_real *x,
                                  int batch, const gsvae_real *grad_logits) {
  check_batch(model, batch);
  take_params(model, params);
  const gsvae_layout *layout = &model->layout;
  size_t width = (size_t)layout->latents * layout->categories;
  encoder_forward(model, params, x, batch);
  double kl = kl_and_pick(model, model->activations[layout->encoder_layers - 1], batch, NULL, model->grad_logits);
  for (size_t i = 0; i < (size_t)batch * width; i++) model->grad_logits[i] += grad_logits[i];
  backward_layers(model, params, grads, layout->encoder_layers - 1, 0, x, batch, model->grad_logits);
  return kl;
}

const gsvae_real *cpu_model_layer_output(const cpu_model *model, int layer) { return model->activations[layer]; }
const gsvae_real *cpu_model_decoder_input(const cpu_model *model) { return model->z; }
const int *cpu_model_unrelaxed_picks(const cpu_model *model) { return model->picked; }

/* Adam's and RAdam's moments, alike in both. */
static inline void update_moments(gsvae_real *m, gsvae_real *v, gsvae_real g, gsvae_real b1, gsvae_real b2,
                                  gsvae_real one_minus_b1, gsvae_real one_minus_b2) {
  *m = b1 * *m + one_minus_b1 * g;
  *v = b2 * *v + one_minus_b2 * g * g;
}

/* torch.optim.Adam's and torch.optim.RAdam's single-tensor steps, operation for operation: the
 * scalars in double as Python computes them (model/optimizer_step.c), the element math in the
 * buffer's precision, in PyTorch's order: RAdam's `math.sqrt(bias_correction2) / denom` is
 * Tensor.__rtruediv__, a reciprocal then a product. The loops vectorize only under
 * -fno-math-errno (sqrtf's errno path is a branch otherwise). */
/* An AVX2 copy beside the baseline one, picked when the program loads: two divisions and a square
 * root per parameter make this loop compute-bound at 4 lanes. Both copies round alike (IEEE
 * division and sqrt, and no FMA to contract into). */
GSVAE_WIDE_LOOP
void cpu_optimizer_update(gsvae_real *params, gsvae_real *exp_avg, gsvae_real *exp_avg_sq, const gsvae_real *grads,
                          size_t count, const gsvae_optimizer_step *step, double grad_divisor) {
  gsvae_real b1 = (gsvae_real)step->beta1, b2 = (gsvae_real)step->beta2, one_minus_b1 = (gsvae_real)(1 - step->beta1),
             one_minus_b2 = (gsvae_real)(1 - step->beta2), epsilon = (gsvae_real)step->eps,
             divisor = (gsvae_real)grad_divisor, lr = (gsvae_real)step->lr, bias1 = (gsvae_real)step->bias1,
             bias2_sqrt = (gsvae_real)step->bias2_sqrt, step_size = (gsvae_real)step->step_size,
             rect = (gsvae_real)step->rect;
  switch (step->rule) {
  case GSVAE_UPDATE_ADAM:
    for (size_t i = 0; i < count; i++) {
      update_moments(&exp_avg[i], &exp_avg_sq[i], grads[i] / divisor, b1, b2, one_minus_b1, one_minus_b2);
      params[i] -= step_size * (exp_avg[i] / (real_sqrt(exp_avg_sq[i]) / bias2_sqrt + epsilon));
    }
    break;
  case GSVAE_UPDATE_RADAM_MOMENTUM:
    for (size_t i = 0; i < count; i++) {
      update_moments(&exp_avg[i], &exp_avg_sq[i], grads[i] / divisor, b1, b2, one_minus_b1, one_minus_b2);
      params[i] -= exp_avg[i] / bias1 * lr;
    }
    break;
  case GSVAE_UPDATE_RADAM_RECTIFIED:
    for (size_t i = 0; i < count; i++) {
      update_moments(&exp_avg[i], &exp_avg_sq[i], grads[i] / divisor, b1, b2, one_minus_b1, one_minus_b2);
      gsvae_real adaptive_lr = (1 / (real_sqrt(exp_avg_sq[i]) + epsilon)) * bias2_sqrt;
      params[i] -= exp_avg[i] / bias1 * lr * adaptive_lr * rect;
    }
    break;
  }
}
