/* Flush-to-zero reaches the BLAS library's worker threads (src/cpu/blas.h: OpenBLAS's pthread
 * pool or oneDNN's OpenMP threads, as built): a threaded product of subnormal inputs is exactly
 * zero with the mode on (DAZ reads them as 0) and non-zero without it. The test can fail: with
 * MXCSR set on the calling thread alone (what a plain _mm_setcsr in main gives), the workers'
 * share of the product stays non-zero, and that case is checked too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xmmintrin.h>
#include "cpu/blas.h"
#include "cpu/float_mode.h"

/* Large enough that the library splits it over its threads (OpenBLAS's threshold and oneDNN's are
 * far below 256^3). */
enum { N = 256 };
enum { MXCSR_DAZ = 1 << 6, MXCSR_FTZ = 1 << 15 };

/* C = A B with every A entry subnormal and B all ones: each entry is N * 1e-39 = 2.6e-37, a normal
 * float, in an IEEE thread, and 0 in a DAZ thread. Returns how many entries are non-zero. */
static long nonzero_entries(const float *a, const float *b, float *c) {
  gsvae_sgemm(false, false, N, N, N, 1, a, N, b, N, 0, c, N);
  long count = 0;
  for (long i = 0; i < (long)N * N; i++) count += c[i] != 0;
  return count;
}

static int failures;
static void expect(int ok, const char *what, long nonzero) {
  printf("%-72s %6ld of %d non-zero: %s\n", what, nonzero, N * N, ok ? "ok" : "FAILED");
  failures += !ok;
}

int main(void) {
  float *a = malloc(sizeof(float) * N * N), *b = malloc(sizeof(float) * N * N), *c = malloc(sizeof(float) * N * N);
  if (!a || !b || !c) return 1;
  for (long i = 0; i < (long)N * N; i++) a[i] = 1e-39f, b[i] = 1;
  gsvae_blas_set_threads(2);
  long total = (long)N * N, nonzero;

  gsvae_float_mode_set(false);
  nonzero = nonzero_entries(a, b, c);
  expect(nonzero == total && !strcmp(gsvae_float_mode_name(), "ieee"), "ieee: the subnormal product is computed",
         nonzero);

  /* The calling thread alone: its share is flushed, the workers' is not. If everything were flushed
   * here, the product ran on one thread and the next check would show nothing. */
  _mm_setcsr(_mm_getcsr() | MXCSR_DAZ | MXCSR_FTZ);
  nonzero = nonzero_entries(a, b, c);
  expect(nonzero > 0 && nonzero < total, "MXCSR set in the calling thread only: the workers still compute it",
         nonzero);

  gsvae_float_mode_set(true);
  nonzero = nonzero_entries(a, b, c);
  expect(nonzero == 0 && !strcmp(gsvae_float_mode_name(), "ftz+daz"),
         "gsvae_float_mode_set(true): every thread reads subnormals as zero", nonzero);

  gsvae_float_mode_set(false);
  nonzero = nonzero_entries(a, b, c);
  expect(nonzero == total, "gsvae_float_mode_set(false): IEEE again in every thread", nonzero);

  free(a), free(b), free(c);
  printf(failures ? "FAILED\n" : "all checks passed\n");
  return failures != 0;
}
