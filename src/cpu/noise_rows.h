/* The noise rows the CPU draws for a sample (core/noise.h's counters): Gumbel rows, transformed
 * by exp_log_rows.c, and an estimator's whole noise row
 * (model/estimator_settings.h says its layout; the GPU draws the same numbers in kernels.cu). */
#pragma once
#include <stdint.h>
#include "core/noise.h"
#include "cpu/exp_log_rows.h"
#include "model/estimator_settings.h"

static inline void gsvae_fill_gumbel(float *out, uint32_t count, uint64_t seed, uint32_t purpose, uint64_t step,
                                     uint64_t sample) {
  gsvae_fill_uniform(out, count, seed, purpose, step, sample);
  gsvae_gumbel_from_uniform(out, count);
}

void gsvae_estimator_fill_noise(float *row, const gsvae_estimator_settings *settings, uint32_t latent_width,
                                uint64_t seed, uint64_t step, uint64_t sample);
