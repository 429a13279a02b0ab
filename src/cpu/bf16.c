/* Float to bfloat16 rounding (cpu/bf16.h). Written here because the one library that has it,
 * oneDNN, gives it only as a reorder primitive made per shape; the loop is the rounding rule
 * itself, in integers, so that every copy of it rounds alike. */
#include <stdbool.h>
#include <string.h>
#include "cpu/bf16.h"

/* The CPUs that run bf16 products have AVX-512: a copy for them, vectorized 16 wide by GCC. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void gsvae_bf16_round(const float *in, uint16_t *out, size_t count) {
  for (size_t i = 0; i < count; i++) {
    uint32_t bits;
    memcpy(&bits, &in[i], sizeof bits);
    /* adding 0x7fff plus the kept part's lowest bit carries into it exactly when the dropped
     * half is above one half, or exactly one half with an odd kept part */
    uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
    bool nan = (bits & 0x7fffffffu) > 0x7f800000u;
    out[i] = (uint16_t)(nan ? (bits >> 16) | 0x40u : rounded);
  }
}
