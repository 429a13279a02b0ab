/* The GPU side as the training loop sees it: how many GPUs this process sees, which one a rank
 * takes, and the hook that lets the CUDA backend all-reduce inside its own step. */
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
/* Optional, after gsvae_nccl_comm_create: the backend then runs the gradient all-reduce inside
 * its step, so the whole step (forward, backward, all-reduce, update) is one CUDA graph, and
 * with device.overlap the decoder's gradients (and the metrics) are reduced on a second stream
 * while the encoder's backward runs. reduce_buffer then reports 0 floats left for the loop. */
void gsvae_cuda_backend_attach_comm(gsvae_backend *backend, gsvae_comm *comm);
/* For the backend: in-place NCCL sum of `count` device floats on `cuda_stream`. */
void gsvae_nccl_allreduce_on(gsvae_comm *comm, float *buffer, size_t count, void *cuda_stream);
#endif
