/* Synthetic images and their batches for parity_step and parity_trajectory: the inputs drawn here
 * independently of the backend, from the same counter-based streams. */
#include <stdlib.h>
#include "core/check.h"
#include "core/noise.h"
#include "cpu/noise_rows.h"
#include "synthetic_images.h"

void synthetic_images(gsvae_dataset *data, uint32_t *order) {
  data->count = SYNTHETIC_IMAGES, data->rows = 28, data->cols = 28, data->dim = 784;
  data->pixels = mallocCheck((size_t)SYNTHETIC_IMAGES * 784);
  data->labels = callocCheck(SYNTHETIC_IMAGES, 1);
  float u[784];
  for (int i = 0; i < SYNTHETIC_IMAGES; i++) {
    gsvae_fill_uniform(u, 784, 99, GSVAE_NOISE_PRIOR, 0, (uint64_t)i);
    for (int p = 0; p < 784; p++) data->pixels[(size_t)i * 784 + p] = u[p] < 0.5f ? 0 : (uint8_t)(510 * (u[p] - 0.5f));
  }
  gsvae_epoch_permutation(order, SYNTHETIC_IMAGES, 0, 0);
}

void synthetic_batch(const gsvae_dataset *data, const uint32_t *order, int step, int width, float *x, float *gumbel,
                     float *gumbel_unrelaxed) {
  for (int i = 0; i < SYNTHETIC_BATCH; i++) {
    size_t position = (size_t)step * SYNTHETIC_BATCH + i;
    const uint8_t *pixels = data->pixels + (size_t)order[position] * 784;
    for (int p = 0; p < 784; p++) x[(size_t)i * 784 + p] = pixels[p] / 255.0f;
    gsvae_fill_gumbel(gumbel + (size_t)i * width, width, 0, GSVAE_NOISE_GUMBEL, step, position);
    gsvae_fill_gumbel(gumbel_unrelaxed + (size_t)i * width, width, 0, GSVAE_NOISE_GUMBEL_UNRELAXED, step, position);
  }
}
