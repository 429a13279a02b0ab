/* vector_math.h's promise: SLEEF's deterministic exp and log give an element the same bits whichever
 * part computes it (the 8-wide AVX part where this CPU has AVX, the 4-wide SSE2 part, the scalar
 * one), and stay within SLEEF's 1-ulp bound of the exact value. The exact value is libm's double,
 * within 2^-53 relative: a float's ulp is 2^-23 relative, so the double's own error moves the
 * measured ulps by under 1e-6. Checked under IEEE and under FTZ+DAZ (the trainer's default), on
 * every 97th float of the ranges the model uses (exp: [-104, 0], BCE's exp(-|a|) down to where
 * it is 0; log: every positive float, BCE's log(1 + e) and the Gumbel transform's two logs), or on
 * every one of them with --all (minutes). The widths can only disagree if a part were not SLEEF's
 * deterministic function, or the split into parts lost or moved an element. */
#include <math.h>
#include <sleef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xmmintrin.h>
#include <pmmintrin.h>
#include "cpu/vector_math.h"
#include "expect.h"

/* Not a multiple of 8 or 4: one call takes the AVX part, the SSE2 part and the scalar one. */
enum { BLOCK = 4093, SSE2_TAIL = 7 };

typedef struct {
  const char *name;
  void (*array)(const float *, float *, size_t);
  float (*scalar)(float);
  double (*exact)(double);
  uint32_t first_bits, last_bits; /* the inputs' bit patterns, inclusive: one sign, so monotone */
} function_case;

static float exp_scalar(float x) { return Sleef_cinz_expf1_u10purec(x); }
static float log_scalar(float x) { return Sleef_cinz_logf1_u10purec(x); }

/* |got - want| in units of the float ulp at want (2^-149 among subnormals). */
static double ulps(float got, double want) {
  int exponent;
  frexp(want, &exponent);
  double ulp = fabs(want) < 0x1p-126 ? 0x1p-149 : ldexp(1.0, exponent - 24);
  return fabs((double)got - want) / ulp;
}

static void check(const function_case *c, uint32_t stride, int flush) {
  float in[BLOCK], whole[BLOCK], tails[BLOCK];
  long differ_whole = 0, differ_tails = 0, checked = 0;
  double worst = 0;
  uint32_t bits = c->first_bits;
  int done = 0;
  while (!done) {
    int count = 0;
    while (count < BLOCK && !done) {
      memcpy(&in[count++], &bits, sizeof bits);
      if (c->last_bits - bits < stride) done = 1;
      else bits += stride;
    }
    c->array(in, whole, (size_t)count);
    for (int start = 0; start < count; start += SSE2_TAIL) /* 4 by SSE2, the rest one at a time */
      c->array(in + start, tails + start, (size_t)(count - start < SSE2_TAIL ? count - start : SSE2_TAIL));
    for (int i = 0; i < count; i++) {
      float scalar = c->scalar(in[i]);
      differ_whole += memcmp(&whole[i], &scalar, sizeof scalar) != 0;
      differ_tails += memcmp(&tails[i], &scalar, sizeof scalar) != 0;
      double want = c->exact((double)in[i]);
      /* flushed: subnormal inputs read as 0 and subnormal results written as 0, by design */
      if (flush && (fabsf(in[i]) < 0x1p-126f || fabs(want) < 0x1p-126)) continue;
      if (isinf(want)) continue;
      double error = ulps(scalar, want);
      if (error > worst) worst = error;
    }
    checked += count;
  }
  char what[160];
  snprintf(what, sizeof what, "%s, %s, %ld inputs: one call's bits differing from scalar", c->name,
           flush ? "FTZ+DAZ" : "IEEE", checked);
  expect(differ_whole == 0, what, (double)differ_whole, 0);
  snprintf(what, sizeof what, "%s, %s: calls of %d (SSE2 and scalar parts) differing from scalar", c->name,
           flush ? "FTZ+DAZ" : "IEEE", SSE2_TAIL);
  expect(differ_tails == 0, what, (double)differ_tails, 0);
  snprintf(what, sizeof what, "%s, %s: the largest error in ulps", c->name, flush ? "FTZ+DAZ" : "IEEE");
  expect(worst <= 1.0, what, worst, 1.0);
}

int main(int argc, char **argv) {
  uint32_t stride = argc > 1 && strcmp(argv[1], "--all") == 0 ? 1 : 97;
  const function_case cases[] = {
      {"exp", gsvae_exp_array, exp_scalar, exp, 0x80000000u, 0xc2d00000u}, /* -0 .. -104 */
      {"log", gsvae_log_array, log_scalar, log, 0x00000001u, 0x7f7fffffu}, /* every positive float */
  };
  for (int flush = 0; flush < 2; flush++) {
    _MM_SET_FLUSH_ZERO_MODE(flush ? _MM_FLUSH_ZERO_ON : _MM_FLUSH_ZERO_OFF);
    _MM_SET_DENORMALS_ZERO_MODE(flush ? _MM_DENORMALS_ZERO_ON : _MM_DENORMALS_ZERO_OFF);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) check(&cases[c], stride, flush);
  }
  /* A row that does not start on a vector boundary: each element as the scalar function. */
  float ragged_in[41], ragged_out[41];
  long ragged_differ = 0;
  for (int offset = 0; offset < 8; offset++)
    for (int count = 0; count + offset <= 41; count++) {
      for (int i = 0; i < 41; i++) ragged_in[i] = -0.37f * (float)(i + 1), ragged_out[i] = 7.0f;
      gsvae_exp_array(ragged_in + offset, ragged_out + offset, (size_t)count);
      for (int i = 0; i < 41; i++) {
        float want = i >= offset && i < offset + count ? exp_scalar(ragged_in[i]) : 7.0f; /* untouched outside */
        ragged_differ += memcmp(&ragged_out[i], &want, sizeof want) != 0;
      }
    }
  expect(ragged_differ == 0, "exp over rows of 0-41 at offsets 0-7: elements wrong or written outside",
         (double)ragged_differ, 0);
  return failures ? 1 : 0;
}
