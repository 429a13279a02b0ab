/* How a global batch is cut into the reduction chunks whose gradients are folded in a fixed
 * order, which chunks each rank computes, and each rank's shard of the flat buffers. */
#pragma once
#include <stddef.h>
#include "gsvae/blas.h"

/* The most rows a chunk may have: a chunk's weight-gradient product has K = its rows, and up to
 * here it is one K block of every kernel set of the BLAS library, so that accumulating it with
 * beta = 1 rounds as the separate product added (include/gsvae/blas.h). */
#define GSVAE_MAX_CHUNK_ROWS GSVAE_BLAS_K_BLOCK
#define GSVAE_MAX_CHUNK_ROWS_TEXT GSVAE_BLAS_K_BLOCK_TEXT

/* Chunk c of `chunks` over a batch of `rows` starts here: contiguous, sizes differing by at most 1. */
static inline int gsvae_chunk_start(int rows, int chunks, int c) { return (int)((long long)c * rows / chunks); }

/* Rank r of `size` computes chunks [gsvae_rank_first_chunk(r), gsvae_rank_first_chunk(r + 1)). */
static inline int gsvae_rank_first_chunk(int chunks, int size, int rank) {
  return (int)((long long)rank * chunks / size);
}

/* Rank r owns elements [gsvae_shard_start(r), gsvae_shard_start(r + 1)) of a flat buffer of
 * `count` floats: Adam's update and moments for them. Starts are multiples of 16 floats (64 bytes),
 * so that no two ranks' vector loops share a cache line. */
static inline size_t gsvae_shard_start(size_t count, int size, int rank) {
  if (rank >= size) return count;
  return (size_t)((unsigned long long)rank * count / (unsigned long long)size) & ~(size_t)15;
}
