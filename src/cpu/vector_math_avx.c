/* vector_math.h's 8-wide part: SLEEF's AVX deterministic functions, built with -mavx (sleef.h
 * declares them only then); vector_math.c calls these only on CPUs with AVX. */
#include <immintrin.h>
#include <sleef.h>
#include "cpu/vector_math.h"

#define GSVAE_AVX_ARRAY(name)                                                                                \
  size_t gsvae_##name##_array_avx(const float *in, float *out, size_t count) {                              \
    size_t i = 0;                                                                                            \
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(out + i, Sleef_cinz_##name##f8_u10avx(_mm256_loadu_ps(in + i))); \
    return i;                                                                                                \
  }
GSVAE_AVX_ARRAY(exp)
GSVAE_AVX_ARRAY(log)
