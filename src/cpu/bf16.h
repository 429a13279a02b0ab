/* bfloat16 operands for device.precision=bf16: float's sign, exponent and top 7 mantissa bits, as
 * the products read them (cpu/blas.h gsvae_gemm_bf16). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* out[i] = in[i] rounded to the nearest bfloat16, ties to even (as oneDNN, PyTorch and the CPU's
 * VCVTNEPS2BF16 round); a NaN stays a NaN, so that a non-finite step is still caught. */
void gsvae_bf16_round(const float *in, uint16_t *out, size_t count);

/* The float a bfloat16 stands for (exact). */
static inline float gsvae_bf16_value(uint16_t bits) {
  union {
    uint32_t bits;
    float value;
  } word = {.bits = (uint32_t)bits << 16};
  return word.value;
}
