/* Communicators: the all-reduce of the backend's flat gradient buffer (MPI on host memory,
 * NCCL on device memory) and of small host arrays; the loop never knows which. */
#pragma once
#include <mpi.h>
#include <stddef.h>

typedef struct gsvae_comm gsvae_comm;
struct gsvae_comm {
  const char *name;
  int rank, size;
  MPI_Comm mpi;  /* the ranks training this model (a sweep group, or MPI_COMM_WORLD) */
  /* In-place sum of `count` floats in the backend's memory across ranks. */
  void (*allreduce_sum)(gsvae_comm *comm, float *buffer, size_t count);
  /* In-place sum of host doubles across ranks (always over MPI). */
  void (*allreduce_sum_host)(gsvae_comm *comm, double *values, int count);
  void (*destroy)(gsvae_comm *comm);
};

gsvae_comm *gsvae_mpi_comm_create(MPI_Comm mpi);
#ifdef GSVAE_HAVE_CUDA
/* Rank 0 makes the NCCL id and broadcasts it over `mpi`; runs on cuda_stream. */
gsvae_comm *gsvae_nccl_comm_create(MPI_Comm mpi, void *cuda_stream);
#endif
