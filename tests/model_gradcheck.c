/* Gradient check of the model's math, built in double: every parameter's gradient from
 * cpu_model_forward_backward against central differences of an independent loop-only forward
 * (Gumbel-Softmax, and straight-through through its surrogate), logits ReLU on and off; the
 * losses and the unrelaxed pass against that forward; the sample's backward against FD. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/backend.h"
#include "cpu/latent.h"
#include "cpu/model_math.h"
#include "core/noise.h"
#include "expect.h"

#define BATCH 3
/* Central differences in double with step h = 1e-5: truncation h^2 |f'''| / 6 ~ 1e-11 (third
 * derivatives of this small net are O(1)); rounding ~2^-53 |loss| / h ~ 1e-11 against gradient entries
 * of 1e-2..1: ~1e-9 relative per tensor. TOLERANCE is 1000x that; a wrong term (a sign, a missing
 * factor of tau, a transposed product) is O(1e-1) and more. */
#define STEP 1e-5
#define TOLERANCE 1e-6
/* The same double sums in another order (hundreds of terms, 2^-53 each): ~1e-14 relative at most;
 * 1e-12 leaves 100x and catches any term missing or counted twice. */
#define SAME_SUMS 1e-12
/* An entry is skipped where +-h moves a ReLU pre-activation across 0: pre-activations spread over
 * O(0.1..1) with density O(1) at 0, each moved by ~1e-5: ~1e-5 of them per entry, times the ~100
 * downstream, ~1e-3 of entries at most (0 seen). 1% still leaves 99% of the entries compared. */
#define SKIPPED_FRACTION 0.01

typedef enum { MODE_RELAXED, MODE_STRAIGHT_THROUGH, MODE_UNRELAXED } sample_mode;

typedef struct {
  gsvae_layout layout;
  double x[BATCH * 64], gumbel[BATCH * 64], gumbel_unrelaxed[BATCH * 64], tau;
  sample_mode mode;
  double soft_at_start[BATCH * 64]; /* straight-through surrogate: z = one_hot + y - y(start) */
  int pick_at_start[BATCH * 64];
} problem;


static int argmax_of_sum(const double *a, const double *b, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (a[i] + b[i] > a[best] + b[best]) best = i;
  return best;
}

/* The loss summed over the batch, by plain loops. signs (if not NULL) gets every ReLU input's
 * sign, to spot finite differences that straddle a kink; soft/pick (if not NULL) the sample. */
static double naive_loss(const problem *pb, const double *params, char *signs, double *soft, int *pick) {
  const gsvae_layout *layout = &pb->layout;
  int latents = layout->latents, categories = layout->categories, width = latents * categories;
  double total = 0, h[2][64];
  int sign_count = 0;
  for (int b = 0; b < BATCH; b++) {
    const double *x = pb->x + b * layout->input_dim;
    memcpy(h[0], x, layout->input_dim * sizeof(double));
    int cur = 0;
    for (int l = 0; l < layout->layer_count; l++) {
      const double *w = params + layout->weight_offset[l], *bias = params + layout->bias_offset[l];
      int relu = l < layout->layer_count - 1 && (l != layout->encoder_layers - 1 || layout->logits_relu);
      for (int o = 0; o < layout->out_features[l]; o++) {
        double v = bias[o];
        for (int i = 0; i < layout->in_features[l]; i++) v += w[o * layout->in_features[l] + i] * h[cur][i];
        if (relu) {
          if (signs) signs[sign_count] = v > 0;
          sign_count++;
          v = v > 0 ? v : 0;
        }
        h[1 - cur][o] = v;
      }
      cur = 1 - cur;
      if (l != layout->encoder_layers - 1) continue;
      /* h[cur] holds the logits: KL(q || uniform), then the sample z replaces them */
      double z[64];
      for (int j = 0; j < latents; j++) {
        const double *logit = h[cur] + j * categories;
        const double *g = (pb->mode == MODE_UNRELAXED ? pb->gumbel_unrelaxed : pb->gumbel) + b * width + j * categories;
        double norm = 0, top = -INFINITY;
        for (int c = 0; c < categories; c++) norm += exp(logit[c]);
        for (int c = 0; c < categories; c++) {
          double q = exp(logit[c]) / norm;
          total += q * log(categories * q);
        }
        for (int c = 0; c < categories; c++) top = fmax(top, (logit[c] + g[c]) / pb->tau);
        double y[64], y_norm = 0;
        for (int c = 0; c < categories; c++) y_norm += y[c] = exp((logit[c] + g[c]) / pb->tau - top);
        int best = argmax_of_sum(logit, g, categories);
        for (int c = 0; c < categories; c++) {
          int k = b * width + j * categories + c;
          y[c] /= y_norm;
          if (soft) soft[k] = y[c];
          if (pb->mode == MODE_RELAXED) z[j * categories + c] = y[c];
          else if (pb->mode == MODE_UNRELAXED) z[j * categories + c] = c == best;
          else z[j * categories + c] = (c == pb->pick_at_start[b * latents + j]) + (y[c] - pb->soft_at_start[k]);
        }
        if (pick) pick[b * latents + j] = best;
      }
      memcpy(h[cur], z, width * sizeof(double));
    }
    for (int p = 0; p < layout->input_dim; p++) {
      double a = h[cur][p];
      total += log1p(exp(-fabs(a))) + fmax(a, 0) - x[p] * a;
    }
  }
  return total;
}

static void fill(double *out, int count, uint32_t purpose, uint64_t sample, int gumbel) {
  float values[256];
  gsvae_fill_uniform(values, (uint32_t)count, 11, purpose, 0, sample);
  for (int i = 0; i < count; i++) out[i] = gumbel ? gsvae_uniform_to_gumbel(values[i]) : values[i];
}

static void check_case(int logits_relu, int straight_through) {
  gsvae_config config;
  memset(&config, 0, sizeof config);
  config.model_latents = 3;
  config.model_categories = 4;
  config.model_hidden[0] = 7;
  config.model_hidden[1] = 5;
  config.model_hidden_count = 2;
  config.model_logits_relu = logits_relu;
  problem *pb = calloc(1, sizeof *pb);
  gsvae_layout_build(&pb->layout, 12, &config);
  const gsvae_layout *layout = &pb->layout;
  int width = layout->latents * layout->categories;
  size_t count = layout->param_count;
  double *params = malloc(count * sizeof(double)), *grads = malloc(count * sizeof(double));
  double *fd = malloc(count * sizeof(double));
  char *skip = calloc(count, 1);
  for (int t = 0; t < gsvae_layout_tensor_count(layout); t++) {
    char name[32];
    int rank;
    size_t shape[2], offset, length;
    gsvae_layout_tensor(layout, t, name, &rank, shape, &offset, &length);
    double bound = 1 / sqrt((double)layout->in_features[t / 2]);
    fill(params + offset, (int)length, GSVAE_NOISE_INIT, t, 0);
    for (size_t i = 0; i < length; i++) params[offset + i] = (2 * params[offset + i] - 1) * bound;
  }
  for (int b = 0; b < BATCH; b++) {
    fill(pb->x + b * 12, 12, GSVAE_NOISE_BINARIZE, b, 0);
    fill(pb->gumbel + b * width, width, GSVAE_NOISE_GUMBEL, b, 1);
    fill(pb->gumbel_unrelaxed + b * width, width, GSVAE_NOISE_GUMBEL_UNRELAXED, b, 1);
  }
  pb->tau = 0.7;
  char label[128];
  const char *name = straight_through ? "st" : "gs";

  cpu_model *model = cpu_model_create(layout, BATCH);
  double sums[GSVAE_METRIC_SLOTS] = {0};
  gsvae_estimator_settings estimator = {.kind = straight_through ? GSVAE_ESTIMATOR_ST : GSVAE_ESTIMATOR_GS,
                                        .decoder_samples = 1};
  cpu_model_forward_backward(model, params, grads, pb->x, BATCH, pb->gumbel, &estimator, pb->tau,
                             pb->gumbel_unrelaxed, false, sums);

  /* straight-through's forward is the decoder on the exact one-hot; its gradient is the surrogate's */
  pb->mode = MODE_UNRELAXED;
  double unrelaxed = naive_loss(pb, params, NULL, NULL, NULL);
  pb->mode = MODE_RELAXED;
  naive_loss(pb, params, NULL, pb->soft_at_start, pb->pick_at_start);
  pb->mode = straight_through ? MODE_STRAIGHT_THROUGH : MODE_RELAXED;
  double loss = naive_loss(pb, params, NULL, NULL, NULL);
  snprintf(label, sizeof label, "%s relu=%d: loss vs loop forward (relative)", name, logits_relu);
  expect(fabs(sums[GSVAE_METRIC_RELAXED] - loss) <= SAME_SUMS * fabs(loss), label,
         fabs(sums[GSVAE_METRIC_RELAXED] - loss) / fabs(loss), SAME_SUMS);
  snprintf(label, sizeof label, "%s relu=%d: unrelaxed loss vs loop forward (relative)", name, logits_relu);
  expect(fabs(sums[GSVAE_METRIC_UNRELAXED] - unrelaxed) <= SAME_SUMS * fabs(unrelaxed), label,
         fabs(sums[GSVAE_METRIC_UNRELAXED] - unrelaxed) / fabs(unrelaxed), SAME_SUMS);

  int sign_count = 0;
  for (int l = 0; l < layout->layer_count; l++) sign_count += BATCH * layout->out_features[l];
  char *signs0 = malloc(sign_count), *signs_plus = malloc(sign_count), *signs_minus = malloc(sign_count);
  naive_loss(pb, params, signs0, NULL, NULL);
  int skipped = 0;
  for (size_t i = 0; i < count; i++) {
    double saved = params[i];
    params[i] = saved + STEP;
    double plus = naive_loss(pb, params, signs_plus, NULL, NULL);
    params[i] = saved - STEP;
    double minus = naive_loss(pb, params, signs_minus, NULL, NULL);
    params[i] = saved;
    fd[i] = (plus - minus) / (2 * STEP);
    skip[i] = memcmp(signs0, signs_plus, sign_count) || memcmp(signs0, signs_minus, sign_count);
    skipped += skip[i];
  }
  for (int t = 0; t < gsvae_layout_tensor_count(layout); t++) {
    char tensor[32];
    int rank;
    size_t shape[2], offset, length;
    gsvae_layout_tensor(layout, t, tensor, &rank, shape, &offset, &length);
    double diff = 0, norm = 0;
    for (size_t i = offset; i < offset + length; i++) {
      if (skip[i]) continue;
      diff += (grads[i] - fd[i]) * (grads[i] - fd[i]);
      norm += fd[i] * fd[i];
    }
    double error = sqrt(diff) / fmax(sqrt(norm), 1e-12);
    snprintf(label, sizeof label, "%s relu=%d: %s gradient vs central differences", name, logits_relu, tensor);
    expect(error <= TOLERANCE, label, error, TOLERANCE);
  }
  snprintf(label, sizeof label, "%s relu=%d: entries skipped at ReLU kinks (fraction)", name, logits_relu);
  expect(skipped <= SKIPPED_FRACTION * count, label, (double)skipped / count, SKIPPED_FRACTION);

  /* the test loss path (one-hot gather) against the loop forward with the same noise */
  double eval_sums[GSVAE_METRIC_SLOTS] = {0};
  cpu_model_unrelaxed_loss(model, params, pb->x, BATCH, pb->gumbel_unrelaxed, eval_sums);
  snprintf(label, sizeof label, "%s relu=%d: cpu_model_unrelaxed_loss vs loop forward", name, logits_relu);
  expect(fabs(eval_sums[GSVAE_METRIC_RELAXED] - unrelaxed) <= SAME_SUMS * fabs(unrelaxed), label,
         fabs(eval_sums[GSVAE_METRIC_RELAXED] - unrelaxed) / fabs(unrelaxed), SAME_SUMS);
  cpu_model_free(model);
  free(params), free(grads), free(fd), free(skip), free(signs0), free(signs_plus), free(signs_minus), free(pb);
}

/* The sample's backward (both estimators use it) against FD of upstream . softmax((l + g)/tau). */
static void check_sample_backward(void) {
  enum { GROUPS = 5, K = 6 };
  double logits[GROUPS * K], gumbel[GROUPS * K], upstream[GROUPS * K], soft[GROUPS * K], grad[GROUPS * K] = {0};
  fill(logits, GROUPS * K, GSVAE_NOISE_PRIOR, 1, 1);
  fill(gumbel, GROUPS * K, GSVAE_NOISE_GUMBEL, 2, 1);
  fill(upstream, GROUPS * K, GSVAE_NOISE_PRIOR, 3, 0);
  double tau = 0.5, diff = 0, norm = 0;
  cpu_latent_sample(logits, gumbel, GROUPS, K, tau, soft, NULL);
  cpu_latent_sample_backward(soft, upstream, GROUPS, K, tau, grad);
  for (int i = 0; i < GROUPS * K; i++) {
    double f[2], saved = logits[i];
    for (int s = 0; s < 2; s++) {
      logits[i] = saved + (s ? -STEP : STEP);
      cpu_latent_sample(logits, gumbel, GROUPS, K, tau, soft, NULL);
      f[s] = 0;
      for (int k = 0; k < GROUPS * K; k++) f[s] += upstream[k] * soft[k];
    }
    logits[i] = saved;
    double fd = (f[0] - f[1]) / (2 * STEP);
    diff += (fd - grad[i]) * (fd - grad[i]);
    norm += fd * fd;
  }
  expect(sqrt(diff / norm) <= TOLERANCE, "sample backward vs central differences", sqrt(diff / norm), TOLERANCE);
}

int main(void) {
  for (int logits_relu = 1; logits_relu >= 0; logits_relu--)
    for (int straight_through = 0; straight_through <= 1; straight_through++) check_case(logits_relu, straight_through);
  check_sample_backward();
  printf(failures ? "%d check(s) FAILED\n" : "all checks passed\n", failures);
  return failures ? 1 : 0;
}
