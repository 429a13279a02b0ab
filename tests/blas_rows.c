/* What the deterministic reduction assumes of the BLAS's sgemm (src/cpu/blas.h: OpenBLAS or
 * oneDNN, as built), checked bit for bit on the seed model's product shapes under whatever kernel
 * set this process was started with (OPENBLAS_CORETYPE, ONEDNN_MAX_CPU_ISA), and what it does not
 * assume because it does not hold (reported, not failed: a later version may differ). Assumed, and
 * failed when broken:
 *  1. a product of a fixed shape on one thread has the same bits wherever its operands lie in
 *     memory (a chunk's rows sit at other offsets on other rank counts);
 *  2. beta = 1 accumulation, C + A*B, rounds exactly as the separate product added to C, for K up
 *     to GSVAE_MAX_CHUNK_ROWS (one K block of the kernels), so a rank may fold its own chunks in
 *     the GEMM.
 * Not assumed (OpenBLAS 0.3.21 Haswell and SkylakeX, oneDNN 2.6: all fail it): a row of a forward
 * product has the same bits whatever the rows M computed with it; a product the same bits with 1
 * or 2 threads (OpenBLAS Haswell's weight gradients; with its AVX-512 kernels, oneDNN splits the
 * K = 784 of the first forward product over 2 threads). Hence chunks of fixed shape, each product
 * on one thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cpu/blas.h"
#include "core/check.h"
#include "core/chunks.h"
#include "cpu/model_math.h"
#include "core/noise.h"

enum { BATCH = 100 };
static const int shapes[][2] = {{784, 512}, {512, 256}, {256, 300}, {300, 256}, {256, 512}, {512, 784}};
static const int row_counts[] = {1, 2, 7, 12, 13, 25, 33, 50, 64, 99, BATCH};
static const int chunk_rows[] = {1, 3, 12, 13, 50, 95, GSVAE_MAX_CHUNK_ROWS};
static int failures, rows_differ, threads_differ;

/* Values like activations: uniform in [-1, 1), a third of them ReLU zeros. */
static float *random_matrix(size_t count, uint64_t sample) {
  float *values = mallocCheck(count * sizeof(float));
  gsvae_fill_uniform(values, (uint32_t)count, 5, GSVAE_NOISE_INIT, 0, sample);
  for (size_t i = 0; i < count; i++) values[i] = values[i] < 0.33f ? 0.0f : 2.0f * values[i] - 1.0f;
  return values;
}

static void check(int ok, const char *what, int in, int out, int detail) {
  if (ok) return;
  printf("FAIL %s (%d x %d, %d)\n", what, in, out, detail);
  failures++;
}

/* A property the design does not rely on: counted and summarised. */
static void note(int ok, int *differ) { *differ += !ok; }

/* Y (M x out) = X (M x in) W^T, as linear_forward computes it. */
static void forward(const float *x, const float *w, float *y, int rows, int in, int out) {
  gsvae_sgemm(false, true, rows, out, in, 1, x, in, w, in, 0, y, out);
}

/* dW (out x in) = dY^T (out x K) X (K x in), beta 0 or 1, as linear_backward computes it. */
static void weight_grad(const float *dy, const float *x, float *dw, int rows, int in, int out, float beta) {
  gsvae_sgemm(true, false, out, in, rows, 1, dy, out, x, in, beta, dw, in);
}

/* Rows of M-row products against the same rows of the whole batch's, both on `threads` threads;
 * and the whole batch's on 2 threads against 1. */
static void rows_independent_of_m(int in, int out, int threads) {
  float *x = random_matrix((size_t)BATCH * in, 1), *w = random_matrix((size_t)in * out, 2);
  float *all = mallocCheck((size_t)BATCH * out * sizeof(float)), *part = mallocCheck((size_t)BATCH * out * sizeof(float));
  gsvae_blas_set_threads(threads);
  forward(x, w, all, BATCH, in, out);
  for (size_t r = 0; r < sizeof row_counts / sizeof row_counts[0]; r++)
    for (int offset = 0; offset + row_counts[r] <= BATCH; offset += row_counts[r] > 37 ? BATCH : 37) {
      int rows = row_counts[r];
      forward(x + (size_t)offset * in, w, part, rows, in, out);
      note(!memcmp(part, all + (size_t)offset * out, (size_t)rows * out * sizeof(float)), &rows_differ);
    }
  gsvae_blas_set_threads(3 - threads);
  forward(x, w, part, BATCH, in, out);
  note(!memcmp(part, all, (size_t)BATCH * out * sizeof(float)), &threads_differ);
  free(x), free(w), free(all), free(part);
}

static void weight_grads(int in, int out) {
  int most = GSVAE_MAX_CHUNK_ROWS;
  float *dy = random_matrix((size_t)2 * most * out, 3), *x = random_matrix((size_t)2 * most * in, 4);
  size_t count = (size_t)out * in;
  float *one = mallocCheck(count * sizeof(float)), *two = mallocCheck(count * sizeof(float));
  float *accumulated = mallocCheck(count * sizeof(float)), *separate = mallocCheck(count * sizeof(float));
  for (size_t c = 0; c < sizeof chunk_rows / sizeof chunk_rows[0]; c++) {
    int rows = chunk_rows[c];
    gsvae_blas_set_threads(1);
    weight_grad(dy, x, one, rows, in, out, 0);
    gsvae_blas_set_threads(2);
    weight_grad(dy, x, two, rows, in, out, 0);
    note(!memcmp(one, two, count * sizeof(float)), &threads_differ);
    /* the same product from operands one float further on in memory */
    float *dy_moved = mallocCheck(((size_t)most * out + 1) * sizeof(float));
    float *x_moved = mallocCheck(((size_t)most * in + 1) * sizeof(float));
    memcpy(dy_moved + 1, dy, (size_t)rows * out * sizeof(float));
    memcpy(x_moved + 1, x, (size_t)rows * in * sizeof(float));
    gsvae_blas_set_threads(1);
    weight_grad(dy_moved + 1, x_moved + 1, two, rows, in, out, 0);
    check(!memcmp(one, two, count * sizeof(float)), "weight gradient, operands moved", in, out, rows);
    free(dy_moved), free(x_moved);
    for (int threads = 1; threads <= 2; threads++) {
      gsvae_blas_set_threads(threads);
      /* the next chunk's product folded onto this one: by beta = 1, and as a separate add */
      memcpy(accumulated, one, count * sizeof(float));
      weight_grad(dy + (size_t)most * out, x + (size_t)most * in, accumulated, rows, in, out, 1);
      weight_grad(dy + (size_t)most * out, x + (size_t)most * in, separate, rows, in, out, 0);
      for (size_t i = 0; i < count; i++) separate[i] += one[i];
      check(!memcmp(accumulated, separate, count * sizeof(float)), "beta=1 accumulation vs separate add", in, out,
            rows);
    }
  }
  free(dy), free(x), free(one), free(two), free(accumulated), free(separate);
}

int main(void) {
  printf("%s, kernels %s\n", gsvae_blas_name(), gsvae_blas_kernels());
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int in = shapes[s][0], out = shapes[s][1];
    rows_independent_of_m(in, out, 1);
    rows_independent_of_m(in, out, 2);
    /* the input-gradient product dX = dY W is forward-shaped: rows x out times out x in */
    rows_independent_of_m(out, in, 2);
    weight_grads(in, out);
  }
  printf("not relied on, and not holding here: %d row-vs-M and %d thread-count comparisons differ\n", rows_differ,
         threads_differ);
  printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok", failures);
  return failures ? 1 : 0;
}
