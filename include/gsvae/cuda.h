/* The GPU side as the training loop sees it: how many GPUs this process sees, which one a rank
 * takes, and the NCCL communicator's buffer the CUDA backend reserves before capturing its step. */
#pragma once
#include <mpi.h>
#include "gsvae/backend.h"
#include "gsvae/comm.h"

/* GPUs visible to this process; 0 when there is no driver or no GPU (never aborts). */
int gsvae_cuda_device_count(void);
/* Picks this rank's GPU from its node-local rank (MPI_COMM_TYPE_SHARED) modulo the GPUs the
 * node has, makes it current (cudaSetDevice) and returns it. */
int gsvae_cuda_select_device(MPI_Comm mpi);

#ifdef GSVAE_HAVE_CUDA
/* For the CUDA backend, before any step is captured: device room for `floats` floats of partials
 * received by the reduction (cudaMalloc cannot run inside a graph capture). */
void gsvae_nccl_reserve(gsvae_comm *comm, size_t floats);
#endif
