/* How a global batch is cut into the reduction chunks whose gradients are folded in a fixed
 * order, which chunks each rank computes, and each rank's shard of the flat buffers. */
#pragma once
#include <stddef.h>

/* The most rows a chunk may have: a chunk's weight-gradient product has K = its rows, and up to
 * here it is one K block of every kernel set of the BLAS library, so that accumulating it with
 * beta = 1 rounds exactly as the product with beta = 0 added to C afterwards (tests/blas_rows.c
 * checks it, tests/cpu_matrix.sh on each kernel set). OpenBLAS 0.3.21: 128 (Prescott's block is
 * under 256, the others' larger). oneDNN 2.6: 96, the block of its AVX and AVX2 kernels on
 * products of up to about 512 x 512 (its SSE4.1 kernels' is 256, AVX-512's 384). CMake defines
 * GSVAE_BLAS_ONEDNN in the oneDNN build; the library itself sits above, in src/cpu/. */
#ifdef GSVAE_BLAS_ONEDNN
#define GSVAE_MAX_CHUNK_ROWS 96
#define GSVAE_MAX_CHUNK_ROWS_TEXT "96"
#else
#define GSVAE_MAX_CHUNK_ROWS 128
#define GSVAE_MAX_CHUNK_ROWS_TEXT "128"
#endif

/* Chunk c of `chunks` over a batch of `rows` starts here: contiguous, sizes differing by at most 1. */
static inline int gsvae_chunk_start(int rows, int chunks, int c) { return (int)((long long)c * rows / chunks); }

/* Rank r of `size` computes chunks [gsvae_rank_first_chunk(r), gsvae_rank_first_chunk(r + 1)). */
static inline int gsvae_rank_first_chunk(int chunks, int size, int rank) {
  return (int)((long long)rank * chunks / size);
}

/* Rank r owns elements [gsvae_shard_start(r), gsvae_shard_start(r + 1)) of a flat buffer of
 * `count` floats: the optimizer's update and moments for them. Starts are multiples of 16 floats (64 bytes),
 * so that no two ranks' vector loops share a cache line. */
static inline size_t gsvae_shard_start(size_t count, int size, int rank) {
  if (rank >= size) return count;
  return (size_t)((unsigned long long)rank * count / (unsigned long long)size) & ~(size_t)15;
}

/* Where rank r's shard ends: the next rank's start, or `end` for the last rank, whose shard also
 * takes what lies past `count` (the metric slots after the parameters, where end > count). */
static inline size_t gsvae_shard_end(size_t count, int size, int rank, size_t end) {
  return rank + 1 >= size ? end : gsvae_shard_start(count, size, rank + 1);
}

/* The ordered fold of chunks' partials, the one sum whose bits do not depend on the ranks:
 * out[i] = ((sources[0][offset + i] + sources[1][offset + i]) + sources[2][offset + i]) + ... for
 * i < length, float adds in the sources' order. out may be sources[0] + offset. The MPI
 * communicator and the CPU backend call it; the CUDA kernel gsvae_launch_fold adds in the same
 * order, an element a thread (tests/gpu_test.c compares the bits). */
void gsvae_fold_in_order(float *out, const float *const *sources, int count, size_t offset, size_t length);
