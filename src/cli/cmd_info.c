/* `gsvae info`: the version, what the binary was built with (CUDA, cuBLAS, NCCL, MPI, HDF5,
 * the BLAS, SLEEF) and the GPUs each rank sees, printed by rank 0. */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cpu/blas.h"
#include "cpu/vector_math.h"
#include "core/check.h"
#include "comm/comm.h"
#include "cli/cli.h"
#include "core/version.h"
#include "train/runfile.h"
#ifdef GSVAE_HAVE_CUDA
#include "cuda/cuda.h"
#include "cuda/cuda_util.h"
#endif

#define INFO_GPU_TEXT 4096

static void print_build(void) {
  printf("gsvae %s\nbuild:\n", GSVAE_VERSION);
#ifdef GSVAE_HAVE_CUDA
  int runtime = 0, driver = 0, cublas_major = 0, cublas_minor = 0, cublas_patch = 0, nccl = 0;
  cudaCheck(cudaRuntimeGetVersion(&runtime));
  if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0, cudaGetLastError();
  cublasCheck(cublasGetProperty(MAJOR_VERSION, &cublas_major));
  cublasCheck(cublasGetProperty(MINOR_VERSION, &cublas_minor));
  cublasCheck(cublasGetProperty(PATCH_LEVEL, &cublas_patch));
  ncclCheck(ncclGetVersion(&nccl));
  printf("  CUDA runtime  %d.%d\n", runtime / 1000, runtime % 1000 / 10);
  if (driver) printf("  CUDA driver   %d.%d\n", driver / 1000, driver % 1000 / 10);
  else printf("  CUDA driver   none installed\n");
  printf("  cuBLAS        %d.%d.%d\n", cublas_major, cublas_minor, cublas_patch);
  printf("  NCCL          %d.%d.%d\n", nccl / 10000, nccl / 100 % 100, nccl % 100);
  printf("  GPU code      %s\n", gsvae_cuda_architectures());
#else
  printf("  CUDA          not built in (CPU-only trainer; see docs/gpu.md)\n");
#endif
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  mpiCheck(MPI_Get_library_version(mpi, &length));
  while (length > 0 && (mpi[length - 1] == '\n' || mpi[length - 1] == '\0')) length--;
  mpi[length] = '\0';
  char *newline = strchr(mpi, '\n');
  if (newline) *newline = '\0';
  printf("  MPI           %s\n", mpi);
  unsigned major, minor, release;
  h5Check(H5get_libversion(&major, &minor, &release));
  printf("  HDF5          %u.%u.%u\n", major, minor, release);
  printf("  BLAS          %s, kernels %s\n", gsvae_blas_name(), gsvae_blas_kernels());
  printf("  exp, log      %s\n", gsvae_vector_math_name());
}

/* This rank's GPUs as text, for rank 0 to print in rank order. */
static void describe_gpus(char *text, int rank) {
  char host[MPI_MAX_PROCESSOR_NAME];
  int length = 0;
  mpiCheck(MPI_Get_processor_name(host, &length));
  int used = snprintf(text, INFO_GPU_TEXT, "GPUs of rank %d (%s):\n", rank, host);
#ifdef GSVAE_HAVE_CUDA
  int count = gsvae_cuda_device_count();
  for (int d = 0; d < count && used < INFO_GPU_TEXT; d++) {
    struct cudaDeviceProp prop;
    cudaCheck(cudaGetDeviceProperties(&prop, d));
    char image[GSVAE_ERR_LEN];
    gsvae_cuda_describe_image(d, image, sizeof image);
    used += snprintf(text + used, INFO_GPU_TEXT - used, "  %d: %s, %.1f GiB, %s\n", d, prop.name,
                     prop.totalGlobalMem / 1073741824.0, image);
  }
  if (count == 0) snprintf(text + used, INFO_GPU_TEXT - used, "  no GPU visible\n");
#else
  snprintf(text + used, INFO_GPU_TEXT - used, "  no GPU visible (built without CUDA)\n");
#endif
}

int gsvae_cmd_info(int argc, char **argv) {
  if (argc > 0) {
    fprintf(stderr, "usage: gsvae info\n");
    return GSVAE_EXIT_USAGE;
  }
  gsvae_mpi_start(&argc, &argv);
  int rank = gsvae_world_rank, size = gsvae_world_size;
  char mine[INFO_GPU_TEXT];
  describe_gpus(mine, rank);
  char *all = rank == 0 ? mallocCheck((size_t)size * INFO_GPU_TEXT) : NULL;
  mpiCheck(MPI_Gather(mine, INFO_GPU_TEXT, MPI_CHAR, all, INFO_GPU_TEXT, MPI_CHAR, 0, MPI_COMM_WORLD));
  if (rank == 0) {
    print_build();
    for (int r = 0; r < size; r++) fputs(all + (size_t)r * INFO_GPU_TEXT, stdout);
    fflush(stdout);
    free(all);
  }
  mpiCheck(MPI_Finalize());
  return GSVAE_EXIT_OK;
}
