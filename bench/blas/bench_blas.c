/* The seed step's matrix products (batch 100: the forward of six layers twice, their weight
 * gradients, the input gradients of all but the first) through one BLAS, timed: best of 5 runs of
 * 100 steps. Built once per library by bench/blas/bench_blas.sh: -DBENCH_OPENBLAS, -DBENCH_BLIS,
 * -DBENCH_ONEDNN, or -DBENCH_ONEDNN_BF16 (device.precision=bf16's products: oneDNN's matmul on bf16
 * operands with float results, one primitive per shape made before the timing, as gsvae keeps
 * them). usage: bench_blas THREADS [ROWS]: ROWS the batch (100), 50 for one of 2 ranks' share. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#if defined(BENCH_ONEDNN_BF16)
#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>
static const char *library = "oneDNN matmul, bf16 operands";
static dnnl_engine_t engine;
static dnnl_stream_t stream;
static void ok(dnnl_status_t status) {
  if (status != dnnl_success) {
    fprintf(stderr, "oneDNN call failed: %d\n", (int)status);
    exit(1);
  }
}
typedef struct {
  int trans_a, trans_b, m, n, k;
  dnnl_primitive_t primitive;
  dnnl_memory_t a, b, c;
} matmul;
static matmul cache[64];
static int cached;
static dnnl_memory_desc_t desc(int trans, int rows, int cols, dnnl_data_type_t type) {
  dnnl_memory_desc_t d;
  dnnl_dims_t dims = {rows, cols}, strides = {trans ? 1 : cols, trans ? rows : 1};
  ok(dnnl_memory_desc_init_by_strides(&d, 2, dims, type, strides));
  return d;
}
/* the operands' values do not change the time: each shape's primitive runs on its own buffers */
static void gemm(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                 float *c, int ldc) {
  (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc;
  int i = 0;
  while (i < cached && !(cache[i].trans_a == trans_a && cache[i].trans_b == trans_b && cache[i].m == m &&
                         cache[i].n == n && cache[i].k == k))
    i++;
  if (i == cached) {
    if (!engine) {
      ok(dnnl_engine_create(&engine, dnnl_cpu, 0));
      ok(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    }
    matmul *x = &cache[cached++];
    *x = (matmul){trans_a, trans_b, m, n, k};
    dnnl_memory_desc_t ad = desc(trans_a, m, k, dnnl_bf16), bd = desc(trans_b, k, n, dnnl_bf16),
                       cd = desc(0, m, n, dnnl_f32);
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd;
    ok(dnnl_matmul_desc_init(&md, &ad, &bd, NULL, &cd));
    ok(dnnl_primitive_desc_create(&pd, &md, NULL, engine, NULL));
    ok(dnnl_primitive_create(&x->primitive, pd));
    ok(dnnl_memory_create(&x->a, &ad, engine, DNNL_MEMORY_ALLOCATE));
    ok(dnnl_memory_create(&x->b, &bd, engine, DNNL_MEMORY_ALLOCATE));
    ok(dnnl_memory_create(&x->c, &cd, engine, DNNL_MEMORY_ALLOCATE));
  }
  dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, cache[i].a}, {DNNL_ARG_WEIGHTS, cache[i].b}, {DNNL_ARG_DST, cache[i].c}};
  ok(dnnl_primitive_execute(cache[i].primitive, stream, 3, args));
  ok(dnnl_stream_wait(stream));
}
static void set_threads(int threads) { (void)threads; /* OMP_NUM_THREADS, set by the script */ }
#elif defined(BENCH_ONEDNN)
#include <oneapi/dnnl/dnnl.h>
static const char *library = "oneDNN dnnl_sgemm";
/* dnnl_sgemm is row-major, as the model's buffers */
static void gemm(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                 float *c, int ldc) {
  if (dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc) != dnnl_success) {
    fprintf(stderr, "dnnl_sgemm failed\n");
    exit(1);
  }
}
static void set_threads(int threads) { (void)threads; /* OMP_NUM_THREADS, set by the script */ }
#else
#include <cblas.h>
static void gemm(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                 float *c, int ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a,
              lda, b, ldb, 0.0f, c, ldc);
}
#if defined(BENCH_BLIS)
static const char *library = "BLIS cblas_sgemm";
void bli_thread_set_num_threads(long threads);
static void set_threads(int threads) { bli_thread_set_num_threads(threads); }
#else
static const char *library = "OpenBLAS cblas_sgemm";
static void set_threads(int threads) { openblas_set_num_threads(threads); }
#endif
#endif

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static float *filled(size_t count, int period, float scale) {
  float *values = malloc(count * sizeof(float));
  if (!values) exit(1);
  for (size_t i = 0; i < count; i++) values[i] = (float)(i % period) * scale;
  return values;
}

int main(int argc, char **argv) {
  enum { LAYERS = 6 };
  const int sizes[LAYERS + 1] = {784, 512, 256, 300, 256, 512, 784};
  int threads = argc > 1 ? atoi(argv[1]) : 1, rows = argc > 2 ? atoi(argv[2]) : 100;
  if (threads < 1 || rows < 1) {
    fprintf(stderr, "usage: bench_blas THREADS [ROWS], both positive\n");
    return 2;
  }
  set_threads(threads);
  float *weights[LAYERS], *activations[LAYERS + 1], *out = filled(784 * 784, 1, 0);
  for (int l = 0; l < LAYERS; l++) weights[l] = filled((size_t)sizes[l] * sizes[l + 1], 17, 0.01f);
  for (int l = 0; l <= LAYERS; l++) activations[l] = filled((size_t)rows * sizes[l], 13, 0.1f);
  double best = 1e9;
  for (int run = 0; run < 5; run++) {
    double start = seconds();
    for (int step = 0; step < 100; step++) {
      for (int pass = 0; pass < 2; pass++)
        for (int l = 0; l < LAYERS; l++)
          gemm(0, 1, rows, sizes[l + 1], sizes[l], activations[l], sizes[l], weights[l], sizes[l], out, sizes[l + 1]);
      for (int l = 0; l < LAYERS; l++) {
        gemm(1, 0, sizes[l + 1], sizes[l], rows, activations[l + 1], sizes[l + 1], activations[l], sizes[l], out,
             sizes[l]);
        if (l > 0)
          gemm(0, 0, rows, sizes[l], sizes[l + 1], activations[l + 1], sizes[l + 1], weights[l], sizes[l], out, sizes[l]);
      }
    }
    double ms = (seconds() - start) / 100 * 1e3;
    if (ms < best) best = ms;
  }
  printf("%s, %d thread(s), %d rows: %.2f ms per step's products\n", library, threads, rows, best);
  return 0;
}
