/* The GPU side as the layers above see it (built only with the CUDA toolkit and NCCL): the GPUs
 * this process sees and the one a rank takes, the CUDA backend, and the NCCL communicator with
 * the buffer the backend reserves before capturing its step. */
#pragma once
#include <mpi.h>
#include "comm/comm.h"
#include "comm/node_placement.h"
#include "model/backend.h"

/* GPUs visible to this process; 0 when there is no driver or no GPU (never aborts). */
int gsvae_cuda_device_count(void);
/* Picks this rank's GPU from its place on the node, found over the world before any sweep split
 * (gsvae_node_gpu_index, comm/node_placement.h), makes it current (cudaSetDevice) and returns it;
 * no MPI call. */
int gsvae_cuda_select_device(const gsvae_node_placement *placement);

/* The GPU this rank uses is picked by the caller (cudaSetDevice) before this. max_rows and
 * max_local_chunks as gsvae_cpu_backend_create's. */
gsvae_backend *gsvae_cuda_backend_create(const gsvae_config *config, const gsvae_layout *layout,
                                         const gsvae_dataset *train, const gsvae_dataset *test, int max_rows,
                                         int max_local_chunks);
/* The stream the CUDA backend runs on, for the NCCL communicator. */
void *gsvae_cuda_backend_stream(gsvae_backend *backend);

/* Rank 0 makes the NCCL id and broadcasts it over `mpi`; runs on cuda_stream. */
gsvae_comm *gsvae_nccl_comm_create(MPI_Comm mpi, void *cuda_stream);
/* For the CUDA backend, before any step is captured: device room for `floats` floats of partials
 * received by the reduction (cudaMalloc cannot run inside a graph capture). */
void gsvae_nccl_reserve(gsvae_comm *comm, size_t floats);
