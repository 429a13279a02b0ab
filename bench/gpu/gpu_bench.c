/* The gsvae side of the GPU benchmark (bench/gpu/bench_gpu.py): ms per training step of the CUDA
 * backend on synthetic 28x28 images (the step does not depend on pixel values), and the ms of the
 * step's matrix products alone through cuBLAS, same shapes and math mode.
 *   gpu_bench BATCH [STEPS] [key=value ...]     (config overrides, e.g. device.precision=tf32)
 * Prints one line: batch=B steps=S ms_per_step=X gemm_ms_per_step=Y gpu="NAME" */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "model/backend.h"
#include "cuda/cuda.h"
#include "core/data.h"
#include "core/noise.h"
#include "cuda/cuda_util.h"

#define IMAGES 60000

static double seconds_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void synthetic_dataset(gsvae_dataset *d, int count) {
  d->count = count, d->rows = 28, d->cols = 28, d->dim = 784;
  d->pixels = mallocCheck((size_t)count * d->dim);
  d->labels = callocCheck((size_t)count, 1);
  for (size_t i = 0; i < (size_t)count * d->dim; i++) d->pixels[i] = (uint8_t)((i * 2654435761u) >> 24);
}

/* The step's products at `rows`: each layer forward, its weight gradient and (but the first) its
 * input gradient, plus the unrelaxed decoder's layers after its one-hot first one; on random
 * operands (zeros can run faster), captured once as a graph and replayed, as gsvae's step is, so
 * that launch gaps do not count against the floor. */
static double gemm_ms_per_step(const gsvae_config *config, const gsvae_layout *layout, int rows, int repeats) {
  cublasHandle_t handle;
  cudaStream_t stream;
  cudaCheck(cudaStreamCreate(&stream));
  cublasCheck(cublasCreate(&handle));
  cublasCheck(cublasSetStream(handle, stream));
  bool tf32 = config->device_precision == GSVAE_PRECISION_TF32;
  cublasCheck(cublasSetMathMode(handle, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH));
  cublasComputeType_t compute = tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F_PEDANTIC;
  size_t widest = 0;
  for (int l = 0; l < layout->layer_count; l++) {
    size_t in = layout->in_features[l], out = layout->out_features[l];
    if (in * out > widest) widest = in * out;
    if (rows * in > widest) widest = rows * in;
    if (rows * out > widest) widest = rows * out;
  }
  float *a, *b, *c;
  cudaCheck(cudaMalloc((void **)&a, widest * sizeof(float)));
  cudaCheck(cudaMalloc((void **)&b, widest * sizeof(float)));
  cudaCheck(cudaMalloc((void **)&c, widest * sizeof(float)));
  float *random = mallocCheck(widest * sizeof(float));
  gsvae_fill_uniform(random, widest, 1, 0, 0, 0);
  cudaCheck(cudaMemcpy(a, random, widest * sizeof(float), cudaMemcpyHostToDevice));
  gsvae_fill_uniform(random, widest, 2, 0, 0, 0);
  cudaCheck(cudaMemcpy(b, random, widest * sizeof(float), cudaMemcpyHostToDevice));
  free(random);
  const float one = 1, zero = 0;
#define GEMM(opa, opb, m, n, k, lda, ldb, ldc)                                                                      \
  cublasCheck(cublasGemmEx(handle, opa, opb, m, n, k, &one, a, CUDA_R_32F, lda, b, CUDA_R_32F, ldb, &zero, c,      \
                           CUDA_R_32F, ldc, compute, CUBLAS_GEMM_DEFAULT))
  /* cuBLAS allocates nothing while capturing when it has a workspace of its own */
  const size_t workspace_bytes = (size_t)32 << 20;
  void *workspace;
  cudaCheck(cudaMalloc(&workspace, workspace_bytes));
  cublasCheck(cublasSetWorkspace(handle, workspace, workspace_bytes));
  for (int l = 0; l < layout->layer_count; l++) { /* once eagerly: cuBLAS picks its kernels */
    int in = layout->in_features[l], out = layout->out_features[l];
    GEMM(CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, in, in, out);
  }
  cudaCheck(cudaStreamSynchronize(stream));
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  cudaCheck(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  for (int l = 0; l < layout->layer_count; l++) {
    int in = layout->in_features[l], out = layout->out_features[l];
    GEMM(CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, in, in, out);
    GEMM(CUBLAS_OP_N, CUBLAS_OP_T, in, out, rows, in, out, in);
    if (l > 0) GEMM(CUBLAS_OP_N, CUBLAS_OP_N, in, rows, out, in, out, in);
    if (config->train_unrelaxed && l > layout->encoder_layers) GEMM(CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, in, in, out);
  }
  cudaCheck(cudaStreamEndCapture(stream, &graph));
  cudaCheck(cudaGraphInstantiate(&exec, graph, 0));
#undef GEMM
  cudaEvent_t start, stop;
  cudaCheck(cudaEventCreate(&start));
  cudaCheck(cudaEventCreate(&stop));
  for (int pass = 0; pass < 2; pass++) { /* the first pass warms up */
    cudaCheck(cudaEventRecord(start, stream));
    for (int r = 0; r < repeats; r++) cudaCheck(cudaGraphLaunch(exec, stream));
    cudaCheck(cudaEventRecord(stop, stream));
    cudaCheck(cudaEventSynchronize(stop));
  }
  float ms;
  cudaCheck(cudaEventElapsedTime(&ms, start, stop));
  cudaCheck(cudaGraphExecDestroy(exec));
  cudaCheck(cudaGraphDestroy(graph));
  cudaCheck(cudaEventDestroy(start));
  cudaCheck(cudaEventDestroy(stop));
  cudaCheck(cudaFree(workspace));
  cudaCheck(cudaFree(a));
  cudaCheck(cudaFree(b));
  cudaCheck(cudaFree(c));
  cublasCheck(cublasDestroy(handle));
  cudaCheck(cudaStreamDestroy(stream));
  return ms / repeats;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: gpu_bench BATCH [STEPS] [key=value ...]\n");
    return GSVAE_EXIT_USAGE;
  }
  if (gsvae_cuda_device_count() == 0) {
    printf("SKIP: no GPU visible\n");
    return 77;
  }
  int batch = atoi(argv[1]);
  long steps = argc > 2 ? atol(argv[2]) : 200;
  if (batch < 1 || batch > IMAGES || steps < 1) {
    fprintf(stderr, "gpu_bench: BATCH must be 1..%d and STEPS positive\n", IMAGES);
    return GSVAE_EXIT_USAGE;
  }
  gsvae_config config;
  char err[GSVAE_ERR_LEN];
  char batch_key[64];
  snprintf(batch_key, sizeof batch_key, "train.batch=%d", batch);
  char **overrides = mallocCheck((size_t)argc * sizeof(char *));
  int override_count = 0;
  overrides[override_count++] = batch_key;
  for (int i = 3; i < argc; i++) overrides[override_count++] = argv[i];
  if (gsvae_config_load(&config, NULL, override_count, overrides, err)) {
    fprintf(stderr, "gpu_bench: %s\n", err);
    return GSVAE_EXIT_USAGE;
  }
  gsvae_dataset train, test;
  synthetic_dataset(&train, IMAGES);
  synthetic_dataset(&test, 1000);
  gsvae_layout layout;
  gsvae_layout_build(&layout, 784, &config);
  cudaCheck(cudaSetDevice(0));
  int max_rows, max_chunks;
  gsvae_step_capacity(&config, 1, &max_rows, &max_chunks);
  gsvae_backend *backend = gsvae_cuda_backend_create(&config, &layout, &train, &test, max_rows, max_chunks);
  float *params = mallocCheck(layout.param_count * sizeof(float));
  float *zeros = callocCheck(layout.param_count, sizeof(float));
  gsvae_params_init(&layout, params, config.train_seed);
  backend->set_state(backend, params, zeros, zeros);
  uint32_t *order = mallocCheck(IMAGES * sizeof(uint32_t));
  gsvae_epoch_permutation(order, IMAGES, config.train_seed, 0);
  backend->begin_epoch(backend, 0, order);
  long full_batches = IMAGES / batch;
  long warmup = 20;
  double started = 0;
  for (long step = 0; step < warmup + steps; step++) {
    if (step == warmup) {
      gsvae_metric_read read;
      backend->read_metrics(backend, &read);
      started = seconds_now();
    }
    /* full batches only, cycling through the epoch: every step has the measured shape */
    gsvae_step s = {.step = step, .epoch = 0, .batch_start = (step % full_batches) * batch, .global_count = batch,
                    .tau = 1.0f};
    gsvae_step_slice(&s, &config, 0, 1);
    backend->forward_backward(backend, &s);
    size_t count;
    backend->reduce_buffer(backend, &count);
    backend->update(backend, &s);
  }
  gsvae_metric_read read;
  backend->read_metrics(backend, &read);
  double ms = 1e3 * (seconds_now() - started) / steps;
  double gemm_ms = gemm_ms_per_step(&config, &layout, batch, steps < 50 ? (int)steps : 50);
  struct cudaDeviceProp prop;
  cudaCheck(cudaGetDeviceProperties(&prop, 0));
  printf("batch=%d steps=%ld ms_per_step=%.5f gemm_ms_per_step=%.5f loss=%.4f skipped=%lld gpu=\"%s\"\n", batch, steps,
         ms, gemm_ms, gsvae_loss_sums_mean(&read.sums, GSVAE_METRIC_RELAXED), read.sums.skipped, prop.name);
  backend->destroy(backend);
  gsvae_dataset_free(&train);
  gsvae_dataset_free(&test);
  free(params);
  free(zeros);
  free(order);
  free(overrides);
  return 0;
}
