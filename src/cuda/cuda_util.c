/* The CUDA/cuBLAS/NCCL check helpers, the polling stream wait with its wait guard, and the
 * device count and per-rank device choice the training loop calls. */
#include <time.h>
#include "cuda/cuda.h"
#include "cuda/cuda_util.h"

void gsvae_cuda_check(cudaError_t status, const char *call, const char *file, int line) {
  if (status == cudaSuccess) return;
  gsvae_abort(GSVAE_EXIT_RUNTIME, "%s:%d: CUDA call %s failed: %s (%s)", file, line, call, cudaGetErrorString(status),
              cudaGetErrorName(status));
}

void gsvae_cublas_check(cublasStatus_t status, const char *call, const char *file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  gsvae_abort(GSVAE_EXIT_RUNTIME, "%s:%d: cuBLAS call %s failed: %s (%s)", file, line, call,
              cublasGetStatusString(status), cublasGetStatusName(status));
}

void gsvae_nccl_check(ncclResult_t status, const char *call, const char *file, int line) {
  if (status == ncclSuccess || status == ncclInProgress) return;
  gsvae_abort(GSVAE_EXIT_RUNTIME, "%s:%d: NCCL call %s failed: %s (%s)", file, line, call, ncclGetErrorString(status),
              ncclGetLastError(NULL));
}

static struct {
  gsvae_cuda_wait_poll poll;
  void *context;
  double timeout_s;
} wait_guard;

void gsvae_cuda_set_wait_guard(gsvae_cuda_wait_poll poll, void *context, double timeout_s) {
  wait_guard.poll = poll;
  wait_guard.context = context;
  wait_guard.timeout_s = timeout_s;
}

void gsvae_cuda_clear_wait_guard(void *context) {
  if (wait_guard.context == context) wait_guard.poll = NULL, wait_guard.context = NULL, wait_guard.timeout_s = 0;
}

static double seconds_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

void gsvae_cuda_stream_wait(cudaStream_t stream, const char *what) {
  if (!wait_guard.poll) {
    cudaCheck(cudaStreamSynchronize(stream));
    return;
  }
  double started = seconds_now();
  struct timespec nap = {0, 20000}; /* 20 us: short beside a step, cheap for the host */
  for (;;) {
    cudaError_t status = cudaStreamQuery(stream);
    if (status == cudaSuccess) return;
    if (status != cudaErrorNotReady) cudaCheck(status);
    char message[GSVAE_ERR_LEN];
    if (wait_guard.poll(wait_guard.context, message))
      gsvae_abort(GSVAE_EXIT_RUNTIME, "while waiting for %s: %s", what, message);
    if (wait_guard.timeout_s > 0 && seconds_now() - started > wait_guard.timeout_s)
      gsvae_abort(GSVAE_EXIT_RUNTIME,
                  "while waiting for %s: no progress for %.0f s (a stuck or dead rank? GSVAE_NCCL_TIMEOUT sets the limit)",
                  what, wait_guard.timeout_s);
    nanosleep(&nap, NULL);
  }
}

int gsvae_cuda_device_count(void) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError(); /* no driver or no GPU: clear the sticky error, report none */
    return 0;
  }
  return count;
}

int gsvae_cuda_select_device(const gsvae_node_placement *placement) {
  int count = gsvae_cuda_device_count();
  if (count == 0) gsvae_abort(GSVAE_EXIT_RUNTIME, "no GPU visible to this rank");
  int device = gsvae_node_gpu_index(placement->local_rank, placement->local_ranks, count);
  cudaCheck(cudaSetDevice(device));
  return device;
}
