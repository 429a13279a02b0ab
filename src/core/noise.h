/* Counter-based noise: every random number is a pure function of (seed, purpose, step, sample,
 * index) through Philox4x32-10, so 1, 2 or 4 ranks, a resumed run, and CPU and GPU draw the
 * same numbers. Header-only so that C and CUDA share it. */
#pragma once
#include <math.h>
#include <stdint.h>
#include <Random123/philox.h>
#include "core/host_device.h"

/* What a draw is for; distinct purposes never share a counter. */
enum gsvae_noise_purpose {
  GSVAE_NOISE_INIT = 1,              /* parameter init: sample = tensor, index = element */
  GSVAE_NOISE_PERMUTATION = 2,       /* epoch order: step = epoch, sample = position */
  GSVAE_NOISE_BINARIZE = 3,          /* step = global step (dynamic) or 0 (static), sample = dataset index */
  GSVAE_NOISE_GUMBEL = 4,            /* relaxed sample: sample = position in the global batch */
  GSVAE_NOISE_GUMBEL_UNRELAXED = 5,  /* the unrelaxed objective's fresh categorical sample */
  GSVAE_NOISE_EVAL = 6,              /* test loss: step 0, sample = test index */
  GSVAE_NOISE_PRIOR = 7,             /* analysis: latents drawn from the uniform prior */
  GSVAE_NOISE_IMPORTANCE = 8,        /* analysis: importance-weighted samples */
  GSVAE_NOISE_GUMBEL_CONDITIONAL = 9, /* grmck: Exp(1) draws of the Gumbels conditioned on the sample */
  GSVAE_NOISE_REFERENCE = 10         /* analysis: the local-expectation reference's samples, step = draw */
};

/* Four 32-bit words for the block index/4 of (sample, step): lane index%4 is draw `index`. */
GSVAE_HD static inline philox4x32_ctr_t gsvae_random_block(uint64_t seed, uint32_t purpose, uint64_t step,
                                                          uint64_t sample, uint32_t block) {
  philox4x32_ctr_t ctr = {{block, (uint32_t)sample, (uint32_t)step,
                           (purpose << 24) ^ (uint32_t)((step >> 32) & 0xFFFFFFu) ^ (uint32_t)((sample >> 32) << 16)}};
  philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
  return philox4x32(ctr, key);
}

/* 23 random bits centred in their cell: u = (2k+1) 2^-24 in [2^-24, 1 - 2^-24], never 0 or 1.
 * Not 24 bits: (k + 0.5) 2^-24 would need 25 significant bits near 1 and round to 1.0f. */
GSVAE_HD static inline float gsvae_u32_to_uniform(uint32_t bits) {
  return ((float)(bits >> 9) + 0.5f) * (1.0f / 8388608.0f);
}

GSVAE_HD static inline float gsvae_uniform(uint64_t seed, uint32_t purpose, uint64_t step, uint64_t sample,
                                           uint32_t index) {
  philox4x32_ctr_t r = gsvae_random_block(seed, purpose, step, sample, index >> 2);
  return gsvae_u32_to_uniform(r.v[index & 3]);
}

GSVAE_HD static inline float gsvae_uniform_to_gumbel(float u) { return -logf(-logf(u)); }

/* Fills out[0..count) with draws index 0..count-1 of (seed, purpose, step, sample). */
static inline void gsvae_fill_uniform(float *out, uint32_t count, uint64_t seed, uint32_t purpose, uint64_t step,
                                      uint64_t sample) {
  for (uint32_t block = 0; block * 4 < count; block++) {
    philox4x32_ctr_t r = gsvae_random_block(seed, purpose, step, sample, block);
    for (uint32_t lane = 0; lane < 4 && block * 4 + lane < count; lane++)
      out[block * 4 + lane] = gsvae_u32_to_uniform(r.v[lane]);
  }
}
