/* Synthetic MNIST-like images for the parity tests, and the batch a step draws from them. */
#pragma once
#include "core/data.h"

#define SYNTHETIC_BATCH 100
#define SYNTHETIC_IMAGES (20 * SYNTHETIC_BATCH + 37)

/* SYNTHETIC_IMAGES images of 28x28, about half the pixels black like MNIST's, from their own
 * noise purpose; epoch 0's order of them (seed 0) into order[SYNTHETIC_IMAGES]. */
void synthetic_images(gsvae_dataset *data, uint32_t *order);
/* Global step `step`'s batch as the CPU backend draws it (seed 0, no binarization): its images
 * in [0,1] (batch x 784), the relaxed and the unrelaxed sample's Gumbel noise (batch x width). */
void synthetic_batch(const gsvae_dataset *data, const uint32_t *order, int step, int width, float *x, float *gumbel,
                     float *gumbel_unrelaxed);
