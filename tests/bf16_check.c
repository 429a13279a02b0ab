/* device.precision=bf16 on the CPU, in three parts:
 *   bf16_check rounding   cpu/bf16.h's rounding against the rule worked out in double, on every
 *                         class of float (runs everywhere);
 *   bf16_check products   gsvae_gemm_bf16 at the seed model's shapes (batch 100, 37 and 1; every
 *                         transpose the model uses; with and without accumulate) against sums
 *                         formed exactly;
 *   bf16_check step       one step's gradients and losses with bf16 products against the fp32
 *                         step from the same state, inputs and noise.
 * The last two exit 77 (ctest: skipped) where this build or CPU has no bf16 products, saying why. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/config.h"
#include "cpu/bf16.h"
#include "cpu/blas.h"
#include "cpu/model_math.h"
#include "model/estimator_settings.h"
#include "model/layout.h"
#include "model/loss_sums.h"
#include "synthetic_images.h"

static int failures;
#define CHECK(condition, ...)                         \
  do {                                                \
    if (!(condition)) {                               \
      fprintf(stderr, "bf16_check: FAIL: " __VA_ARGS__); \
      fputc('\n', stderr);                            \
      failures++;                                     \
    }                                                 \
  } while (0)

static float float_of(uint32_t bits) {
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

/* The rule itself: the two bfloat16 neighbours of x (truncated, and one step away from zero,
 * 2^128 standing for the step past the largest finite one), the nearer, a tie to the even one. */
static uint16_t rounded_by_rule(uint32_t bits) {
  float x = float_of(bits);
  if (isnan(x)) return 0; /* checked apart */
  uint32_t low = bits & 0xffff0000u, high = low + 0x10000u;
  double low_value = float_of(low), high_value = (high & 0x7fffffffu) == 0x7f800000u
                                                     ? copysign(ldexp(1, 128), x)
                                                     : (double)float_of(high);
  if (isinf(x)) return (uint16_t)(bits >> 16);
  double below = fabs((double)x - low_value), above = fabs(high_value - (double)x);
  if (below < above || (below == above && ((low >> 16) & 1u) == 0)) return (uint16_t)(low >> 16);
  return (uint16_t)(high >> 16);
}

static uint64_t random_state = 0x9e3779b97f4a7c15u;
static uint32_t random_bits(void) { /* xorshift64*: any well-spread bits do */
  random_state ^= random_state >> 12, random_state ^= random_state << 25, random_state ^= random_state >> 27;
  return (uint32_t)((random_state * 0x2545f4914f6cdd1du) >> 32);
}

static void check_rounding(void) {
  enum { COUNT = 1 << 20 };
  float *in = mallocCheck(COUNT * sizeof(float));
  uint16_t *out = mallocCheck(COUNT * sizeof(uint16_t));
  uint32_t fixed[] = {0, 0x80000000u, 1, 0x807fffffu, 0x00800000u, 0x3f808000u, 0x3f818000u, 0x3f80ffffu,
                      0x3f7fffffu, 0x7f7f7fffu, 0x7f7f8000u, 0x7f7fffffu, 0xff7fffffu, 0x7f800000u, 0xff800000u,
                      0x7f800001u, 0xffc00000u, 0x7fbfffffu};
  int nfixed = (int)(sizeof fixed / sizeof fixed[0]);
  for (int i = 0; i < COUNT; i++) {
    uint32_t bits = i < nfixed ? fixed[i] : random_bits();
    if (i % 4 == 1) bits = (bits & 0xffff0000u) | 0x8000u; /* ties: a quarter of the draws */
    memcpy(&in[i], &bits, sizeof bits);
  }
  gsvae_bf16_round(in, out, COUNT);
  int wrong = 0;
  for (int i = 0; i < COUNT; i++) {
    uint32_t bits;
    memcpy(&bits, &in[i], sizeof bits);
    bool ok = isnan(in[i]) ? isnan(gsvae_bf16_value(out[i])) : out[i] == rounded_by_rule(bits);
    if (!ok && wrong++ < 5) fprintf(stderr, "bf16_check: %08x rounded to %04x\n", bits, out[i]);
  }
  CHECK(wrong == 0, "%d of %d floats rounded against the rule", wrong, COUNT);
  printf("%d floats (%d chosen: zeros, subnormals, ties, the largest, infinities, NaNs; a quarter ties) rounded: %d "
         "against the rule\n", COUNT, nfixed, wrong);
  free(in), free(out);
}

/* Operands of either sign over 2^-6 .. 2^2 in magnitude: no product of two comes near float's
 * subnormals, which the bf16 instructions flush. */
static float operand(void) {
  float magnitude = (0.5f + (float)(random_bits() >> 8) / (float)(1u << 25)) * ldexpf(1, (int)(random_bits() % 9) - 5);
  return random_bits() & 1u ? -magnitude : magnitude;
}

/* C (m x n) against the exact sums: error bounds, u = 2^-24 float's unit roundoff.
 * - Against the sums of the rounded operands' products, which are exact in float (8 x 8
 *   significant bits) and in double: float accumulation of k terms (k + 1 with accumulate), in
 *   any order and blocking, is off by at most gamma = n u / (1 - n u) times the sum of magnitudes
 *   (Higham, Accuracy and Stability, 3.1).
 * - Against the unrounded operands' sums: bfloat16 keeps 8 significant bits, so an operand
 *   rounded to nearest is off by at most u16 = 2^-8 of itself, and a product of two by
 *   2 u16 + u16^2 = 2^-7 + 2^-16 of |a b|; that, plus the above, is bf16's promise.
 * - Not vacuous: the products really were of rounded operands when most elements lie nearer the
 *   rounded sums than the unrounded ones (bf16's error, ~sqrt(k) 2^-10, dwarfs float's). */
static void check_product(bool trans_a, bool trans_b, int m, int n, int k, bool accumulate) {
  int lda = trans_a ? m : k, ldb = trans_b ? k : n;
  size_t a_count = (size_t)m * k, b_count = (size_t)k * n, c_count = (size_t)m * n;
  float *a = mallocCheck(a_count * sizeof(float)), *b = mallocCheck(b_count * sizeof(float));
  float *c = mallocCheck(c_count * sizeof(float)), *c_old = mallocCheck(c_count * sizeof(float));
  uint16_t *a16 = mallocCheck(a_count * sizeof(uint16_t)), *b16 = mallocCheck(b_count * sizeof(uint16_t));
  for (size_t i = 0; i < a_count; i++) a[i] = operand();
  for (size_t i = 0; i < b_count; i++) b[i] = operand();
  for (size_t i = 0; i < c_count; i++) c[i] = c_old[i] = accumulate ? operand() : NAN; /* beta 0 ignores C */
  gsvae_bf16_round(a, a16, a_count);
  gsvae_bf16_round(b, b16, b_count);
  gsvae_gemm_bf16(trans_a, trans_b, m, n, k, a16, lda, b16, ldb, accumulate, c, n);
  double u = ldexp(1, -24), terms = k + (accumulate ? 1 : 0), gamma = terms * u / (1 - terms * u);
  double worst_rounded = 0, worst_exact = 0;
  long nearer_rounded = 0;
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double sum16 = 0, magnitude16 = 0, sum = 0, magnitude = 0;
      for (int p = 0; p < k; p++) {
        size_t ai = trans_a ? (size_t)p * lda + i : (size_t)i * lda + p;
        size_t bi = trans_b ? (size_t)j * ldb + p : (size_t)p * ldb + j;
        double product16 = (double)gsvae_bf16_value(a16[ai]) * gsvae_bf16_value(b16[bi]);
        double product = (double)a[ai] * b[bi];
        sum16 += product16, magnitude16 += fabs(product16), sum += product, magnitude += fabs(product);
      }
      double old = accumulate ? c_old[(size_t)i * n + j] : 0, got = c[(size_t)i * n + j];
      /* the double sums themselves are off by at most k 2^-53 of the magnitudes */
      double slack = (k + 1) * ldexp(1, -53) * (magnitude16 + magnitude + fabs(old));
      double error16 = fabs(got - (old + sum16)), bound16 = gamma * (magnitude16 + fabs(old)) + slack;
      double error = fabs(got - (old + sum)), bound = bound16 + (ldexp(1, -7) + ldexp(1, -16)) * magnitude + slack;
      if (error16 / bound16 > worst_rounded) worst_rounded = error16 / bound16;
      if (error / bound > worst_exact) worst_exact = error / bound;
      if (error16 < error) nearer_rounded++;
    }
  char shape[96];
  snprintf(shape, sizeof shape, "%c%c m %d n %d k %d%s", trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k,
           accumulate ? " accumulate" : "");
  printf("%-36s error / bound: %.3f against the rounded operands' sums, %.3f against the exact; %.1f%% nearer "
         "the rounded\n",
         shape, worst_rounded, worst_exact, 100.0 * nearer_rounded / (double)c_count);
  CHECK(worst_rounded <= 1, "%s: off the rounded operands' sums by %.3f of the float accumulation bound", shape,
        worst_rounded);
  CHECK(worst_exact <= 1, "%s: off the exact sums by %.3f of bf16's bound", shape, worst_exact);
  CHECK(nearer_rounded >= 0.9 * (double)c_count, "%s: only %ld of %zu elements nearer the rounded operands' sums",
        shape, nearer_rounded, c_count);
  free(a), free(b), free(c), free(c_old), free(a16), free(b16);
}

static void check_products(void) {
  const int sizes[] = {784, 512, 256, 300, 256, 512, 784}, batches[] = {100, 37, 1};
  for (int bi = 0; bi < 3; bi++)
    for (int l = 0; l < 6; l++) {
      int batch = batches[bi], in = sizes[l], out = sizes[l + 1];
      check_product(false, true, batch, out, in, false);           /* forward: x W^T */
      check_product(true, false, out, in, batch, bi == 0 && l == 0); /* weight gradient: dY^T x */
      check_product(true, false, out, in, batch, true);
      if (l > 0) check_product(false, false, batch, in, out, false); /* input gradient: dY W */
    }
}

static double norm_of(const float *values, size_t count) {
  double sum = 0;
  for (size_t i = 0; i < count; i++) sum += (double)values[i] * values[i];
  return sqrt(sum);
}

/* The seed model's gradient sums over a batch of 100 from the same initial weights, images and
 * noise, fp32 products against bf16 ones. Each bf16 product is off by at most 2^-7 of the sum of
 * its terms' magnitudes (check_products); to first order the errors of the products on a
 * gradient's path add up: the forward through all 6 layers (the loss), the input gradients down
 * to its layer, its own product: P = 12 - l for layer l (0-based) for its weights, 12 for a
 * bias. The worst case, every rounding one way, is P 2^-7 times the ratio of magnitudes' sums to
 * sums (cancellation); rounding to nearest errs either way alike, so a norm over many elements
 * grows as sqrt(P), not P: the limit P 2^-7 (0.094 for the first layer) takes the worst case at
 * a cancellation ratio of 1, which leaves sqrt(P) ~ 3.5 for cancellation over the expected size.
 * The loss sums (6 products) get 6 2^-7 alike. Not vacuous: the two must differ (relative error
 * over 2^-16), or the bf16 products did not run. */
static void check_step(void) {
  gsvae_config config;
  gsvae_config_defaults(&config);
  config.data_binarize = GSVAE_BINARIZE_NONE;
  gsvae_layout layout;
  gsvae_layout_build(&layout, 784, &config);
  gsvae_dataset data;
  uint32_t *order = mallocCheck(SYNTHETIC_IMAGES * sizeof(uint32_t));
  synthetic_images(&data, order);
  int width = config.model_latents * config.model_categories;
  size_t count = layout.param_count;
  float *params = mallocCheck(count * sizeof(float)), *grads32 = mallocCheck(count * sizeof(float));
  float *grads16 = mallocCheck(count * sizeof(float));
  gsvae_params_init(&layout, params, config.train_seed);
  float *x = mallocCheck((size_t)SYNTHETIC_BATCH * 784 * sizeof(float));
  float *gumbel = mallocCheck((size_t)SYNTHETIC_BATCH * width * sizeof(float));
  float *gumbel_unrelaxed = mallocCheck((size_t)SYNTHETIC_BATCH * width * sizeof(float));
  synthetic_batch(&data, order, 3, width, x, gumbel, gumbel_unrelaxed);
  gsvae_estimator_settings estimator = gsvae_estimator_settings_of(&config);
  cpu_model *fp32 = cpu_model_create(&layout, SYNTHETIC_BATCH), *bf16 = cpu_model_create(&layout, SYNTHETIC_BATCH);
  cpu_model_use_bf16_products(bf16);
  double sums32[GSVAE_METRIC_SLOTS] = {0}, sums16[GSVAE_METRIC_SLOTS] = {0};
  cpu_model_forward_backward(fp32, params, grads32, x, SYNTHETIC_BATCH, gumbel, &estimator, 1, gumbel_unrelaxed, false,
                             sums32);
  cpu_model_forward_backward(bf16, params, grads16, x, SYNTHETIC_BATCH, gumbel, &estimator, 1, gumbel_unrelaxed, false,
                             sums16);
  double largest = 0;
  for (int t = 0; t < gsvae_layout_tensor_count(&layout); t++) {
    char name[32];
    int rank;
    size_t shape[2], offset, length;
    gsvae_layout_tensor(&layout, t, name, &rank, shape, &offset, &length);
    float *difference = mallocCheck(length * sizeof(float));
    for (size_t i = 0; i < length; i++) difference[i] = grads16[offset + i] - grads32[offset + i];
    double relative = norm_of(difference, length) / norm_of(grads32 + offset, length);
    int layer = t / 2, products = rank == 2 ? 12 - layer : 12;
    double limit = products * ldexp(1, -7);
    printf("%-12s relative error %.5f (limit %.3f)\n", name, relative, limit);
    CHECK(relative <= limit, "%s: bf16 gradient off fp32's by %.5f of its norm, over %.3f", name, relative, limit);
    if (relative > largest) largest = relative;
    free(difference);
  }
  CHECK(largest > ldexp(1, -16), "the bf16 and fp32 gradients agree to %.2g: were the products bf16?", largest);
  int slots[] = {GSVAE_METRIC_RELAXED, GSVAE_METRIC_UNRELAXED, GSVAE_METRIC_BCE};
  const char *slot_names[] = {"relaxed", "unrelaxed", "bce"};
  for (int s = 0; s < 3; s++) {
    double relative = fabs(sums16[slots[s]] - sums32[slots[s]]) / fabs(sums32[slots[s]]);
    printf("%-12s relative error %.2e (limit %.3f)\n", slot_names[s], relative, 6 * ldexp(1, -7));
    CHECK(relative <= 6 * ldexp(1, -7), "loss %s off by %.2e", slot_names[s], relative);
  }
  cpu_model_free(fp32), cpu_model_free(bf16);
  gsvae_dataset_free(&data);
  free(params), free(grads32), free(grads16), free(x), free(gumbel), free(gumbel_unrelaxed), free(order);
}

int main(int argc, char **argv) {
  const char *part = argc == 2 ? argv[1] : "";
  if (!strcmp(part, "rounding")) {
    check_rounding();
  } else if (!strcmp(part, "products") || !strcmp(part, "step")) {
    const char *missing = gsvae_blas_bf16_missing();
    if (missing) {
      printf("bf16_check %s: skipped: %s\n", part, missing);
      return 77;
    }
    printf("bf16 products on %s, kernels %s\n", gsvae_blas_name(), gsvae_blas_kernels());
    if (!strcmp(part, "products")) check_products();
    else check_step();
  } else {
    fprintf(stderr, "usage: %s rounding|products|step\n", argv[0]);
    return 2;
  }
  if (failures) fprintf(stderr, "bf16_check %s: %d check(s) failed\n", part, failures);
  return failures ? 1 : 0;
}
