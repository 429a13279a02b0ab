/* The CUDA/cuBLAS/NCCL check helpers, the polling stream wait with its wait guard, and the
 * device count and per-rank device choice the training loop calls. */
#include <stdlib.h>
#include <time.h>
#include "cuda/cuda.h"
#include "cuda/cuda_util.h"
#include "cuda/kernels.h"
#include "core/device_choice.h"

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
} wait_guard;

void gsvae_cuda_set_wait_guard(gsvae_cuda_wait_poll poll, void *context) {
  wait_guard.poll = poll;
  wait_guard.context = context;
}

void gsvae_cuda_clear_wait_guard(void *context) {
  if (wait_guard.context == context) wait_guard.poll = NULL, wait_guard.context = NULL;
}

double gsvae_seconds_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

void gsvae_cuda_stream_wait(cudaStream_t stream, const char *what) {
  if (!wait_guard.poll) {
    cudaCheck(cudaStreamSynchronize(stream));
    return;
  }
  double started = gsvae_seconds_now();
  struct timespec nap = {0, 20000}; /* 20 us: short beside a step, cheap for the host */
  for (;;) {
    cudaError_t status = cudaStreamQuery(stream);
    if (status == cudaSuccess) return;
    if (status != cudaErrorNotReady) cudaCheck(status);
    char message[GSVAE_ERR_LEN];
    if (wait_guard.poll(wait_guard.context, gsvae_seconds_now() - started, message))
      gsvae_abort(GSVAE_EXIT_RUNTIME, "while waiting for %s: %s", what, message);
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

const char *gsvae_cuda_architectures(void) { return GSVAE_CUDA_ARCHITECTURES; }

int gsvae_cuda_describe_image(int device, char *text, size_t size) {
  struct cudaDeviceProp prop;
  cudaCheck(cudaGetDeviceProperties(&prop, device));
  cudaCheck(cudaSetDevice(device));
  int gpu = prop.major * 10 + prop.minor, binary = 0, ptx = 0;
  cudaError_t status = gsvae_kernel_image(&binary, &ptx);
  if (status == cudaErrorNoKernelImageForDevice || status == cudaErrorInvalidDeviceFunction ||
      status == cudaErrorUnsupportedPtxVersion) {
    snprintf(text, size,
             "%s is sm_%d, and this gsvae holds no code it runs (built for %s): rebuild with "
             "-DCMAKE_CUDA_ARCHITECTURES=%d (docs/gpu.md)",
             prop.name, gpu, GSVAE_CUDA_ARCHITECTURES, gpu);
    return -1;
  }
  cudaCheck(status);
  /* binaryVersion is the machine code loaded (the GPU's own when the driver compiled PTX) */
  snprintf(text, size, "sm_%d, runs its sm_%d code (built for %s)", gpu, binary, GSVAE_CUDA_ARCHITECTURES);
  return 0;
}

int gsvae_cuda_select_device(const gsvae_node_placement *placement, MPI_Comm run, gsvae_comm_kind comm, char *err) {
  int count = gsvae_cuda_device_count();
  if (count == 0) gsvae_abort(GSVAE_EXIT_RUNTIME, "no GPU visible to this rank");
  int device = gsvae_device_gpu_index(placement->local_rank, placement->local_ranks, count);
  err[0] = '\0';
  char image[GSVAE_ERR_LEN - 64];
  int refused = gsvae_cuda_describe_image(device, image, sizeof image);
  if (refused) snprintf(err, GSVAE_ERR_LEN, "GPU %d: %s", device, image);
  else cudaCheck(cudaSetDevice(device));
  /* The run's ranks agree before comparing, so that none goes on alone. */
  mpiCheck(MPI_Allreduce(MPI_IN_PLACE, &refused, 1, MPI_INT, MPI_MAX, run));
  if (refused) {
    if (!err[0]) snprintf(err, GSVAE_ERR_LEN, "another rank of this run has a GPU that runs none of this gsvae's code");
    return -1;
  }
  /* Which GPU each rank of the run took, as host/bus id: a launcher may show each rank its own. */
  int size;
  mpiCheck(MPI_Comm_size(run, &size));
  char (*ids)[GSVAE_GPU_ID_LEN] = callocCheck((size_t)size, GSVAE_GPU_ID_LEN);
  int *models = callocCheck((size_t)size, sizeof(int)); /* one communicator: one model */
  char mine[GSVAE_GPU_ID_LEN], host[MPI_MAX_PROCESSOR_NAME], bus[16];
  int length = 0;
  mpiCheck(MPI_Get_processor_name(host, &length));
  cudaCheck(cudaDeviceGetPCIBusId(bus, sizeof bus, device));
  snprintf(mine, sizeof mine, "%.*s/%s", (int)(GSVAE_GPU_ID_LEN - sizeof bus - 1), host, bus);
  mpiCheck(MPI_Allgather(mine, GSVAE_GPU_ID_LEN, MPI_CHAR, ids, GSVAE_GPU_ID_LEN, MPI_CHAR, run));
  refused = gsvae_device_check_sharing(size, (const char (*)[GSVAE_GPU_ID_LEN])ids, models, comm, err);
  free(ids);
  free(models);
  return refused ? -1 : device;
}
