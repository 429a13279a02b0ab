/* exp and log over float arrays with SLEEF's deterministic functions (Sleef_cinz_*: no FMA, 1-ulp
 * bound): their SSE2, AVX and scalar versions return the same bits for every input (checked over
 * every float the model feeds them: tests/vector_math_test.c), so a result depends neither on the
 * CPU nor on where an array starts or ends, and the vector versions run 2-4x glibc's scalar expf
 * and logf. */
#pragma once
#include <stddef.h>

/* What computes them here, for `gsvae info` and run.h5's env: SLEEF's version and the widest
 * part this CPU runs, e.g. "SLEEF 3.5.1 deterministic (cinz), AVX". */
const char *gsvae_vector_math_name(void);

/* out[i] = exp(in[i]) and log(in[i]) for i < count; out may be in. */
void gsvae_exp_array(const float *in, float *out, size_t count);
void gsvae_log_array(const float *in, float *out, size_t count);

/* The AVX part (vector_math_avx.c, the one file built with -mavx; called only where the CPU has
 * AVX): the first multiple of 8 elements; returns how many it did. */
size_t gsvae_exp_array_avx(const float *in, float *out, size_t count);
size_t gsvae_log_array_avx(const float *in, float *out, size_t count);
