/* vector_math.h: SLEEF's deterministic exp and log over arrays, 8 at a time with AVX where the
 * CPU has it (vector_math_avx.c), then 4 with SSE2 (every x86-64 has it), then one at a time. The
 * three return the same bits, so the split never shows in a result. */
#include <sleef.h>
#include <stdbool.h>
#include <stdio.h>
#include "cpu/vector_math.h"
#if defined(__x86_64__)
#include <immintrin.h>
static bool cpu_has_avx(void) { return __builtin_cpu_supports("avx"); }
#define GSVAE_WIDE_PART(name)                                                                                \
  if (cpu_has_avx()) i = gsvae_##name##_array_avx(in, out, count);                                           \
  for (; i + 4 <= count; i += 4) _mm_storeu_ps(out + i, Sleef_cinz_##name##f4_u10sse2(_mm_loadu_ps(in + i)));
#else
#define GSVAE_WIDE_PART(name)
#endif

#define GSVAE_ARRAY(name)                                                                                    \
  void gsvae_##name##_array(const float *in, float *out, size_t count) {                                    \
    size_t i = 0;                                                                                            \
    GSVAE_WIDE_PART(name)                                                                                    \
    for (; i < count; i++) out[i] = Sleef_cinz_##name##f1_u10purec(in[i]);                                   \
  }
GSVAE_ARRAY(exp)
GSVAE_ARRAY(log)

const char *gsvae_vector_math_name(void) {
  static char name[64];
  const char *widest = "scalar";
#if defined(__x86_64__)
  widest = cpu_has_avx() ? "AVX" : "SSE2";
#endif
  snprintf(name, sizeof name, "SLEEF %d.%d.%d deterministic (cinz), %s", SLEEF_VERSION_MAJOR, SLEEF_VERSION_MINOR,
           SLEEF_VERSION_PATCHLEVEL, widest);
  return name;
}
