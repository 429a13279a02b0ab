/* The GPU side as the layers above see it (built only with the CUDA toolkit and NCCL): the GPUs
 * this process sees and the one a rank takes, the CUDA backend, and its communicators (NCCL, or
 * MPI through pinned memory) with the buffer the backend reserves before capturing its step. */
#pragma once
#include <mpi.h>
#include <stddef.h>
#include "comm/comm.h"
#include "comm/node_placement.h"
#include "core/config.h"
#include "model/backend.h"

/* GPUs visible to this process; 0 when there is no driver or no GPU (never aborts). */
int gsvae_cuda_device_count(void);
/* Picks this rank's GPU from its place on the node, found over the world before any sweep split
 * (core/device_choice.h: one per node-local rank, or shared when there are fewer), checks that the
 * binary runs on it and makes it current; then the ranks of `run` (the communicator this rank
 * trains with) compare their GPUs by host and PCI bus id: two of one NCCL communicator on one GPU
 * are refused, unless comm is GSVAE_COMM_MPI (ranks of different sweep groups never meet here,
 * so they may share). Returns the device, or -1 with the reason and the fix in err (a usage
 * error, the same on every rank of `run`). Collective over `run` alone. */
int gsvae_cuda_select_device(const gsvae_node_placement *placement, MPI_Comm run, gsvae_comm_kind comm, char *err);
/* The architectures this binary was built for (CMAKE_CUDA_ARCHITECTURES, e.g. "80-real 90-real
 * 100-real 100-virtual"). */
const char *gsvae_cuda_architectures(void);
/* Makes `device` current and writes which of this binary's code it runs; returns -1 with the
 * reason and the fix when it runs none (a failed first launch otherwise). */
int gsvae_cuda_describe_image(int device, char *text, size_t size);

/* The GPU this rank uses is picked by the caller (cudaSetDevice) before this. max_rows and
 * max_local_chunks as gsvae_cpu_backend_create's. */
gsvae_backend *gsvae_cuda_backend_create(const gsvae_config *config, const gsvae_layout *layout,
                                         const gsvae_dataset *train, const gsvae_dataset *test, int max_rows,
                                         int max_local_chunks);
/* The stream the CUDA backend runs on, for the NCCL communicator. */
void *gsvae_cuda_backend_stream(gsvae_backend *backend);

/* The GPU communicators, on the backend's stream (gsvae_cuda_backend_stream): NCCL (rank 0 makes
 * the id and broadcasts it over `mpi`), or MPI through pinned host memory (device.comm=mpi); both
 * give up on a peer after timeout_s seconds (device.timeout). */
gsvae_comm *gsvae_nccl_comm_create(MPI_Comm mpi, void *cuda_stream, double timeout_s);
gsvae_comm *gsvae_mpi_staged_comm_create(MPI_Comm mpi, void *cuda_stream, double timeout_s);
/* For the CUDA backend, before any step is captured: device room for `floats` floats of partials
 * received by the reduction (cudaMalloc cannot run inside a graph capture). */
void gsvae_device_comm_reserve(gsvae_comm *comm, size_t floats);
