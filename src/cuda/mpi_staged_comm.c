/* device.comm=mpi for GPU ranks: device buffers moved over MPI through pinned host memory. The
 * bytes travel as over NCCL (the same pieces to the same shard owners) and are folded on the GPU
 * by the same kernel, so the result is NCCL's bit for bit; only the transport differs. It lets
 * ranks share a GPU (NCCL refuses two ranks of one communicator on one device), runs where NCCL
 * is missing, and runs every multi-rank path of the GPU backend on a one-GPU machine. Its waits
 * are on the host, so the backend runs its steps eagerly instead of as a graph (base.eager). */
#include <stdlib.h>
#include "comm/comm.h"
#include "cuda/cuda.h"
#include "cuda/device_comm.h"

typedef struct {
  gsvae_device_comm device;
  float *host_partials; /* pinned: this rank's partials, staged for sending */
  size_t host_partials_floats;
  float *host_inbox;    /* pinned: the other ranks' partials of this rank's shard */
  size_t host_inbox_floats;
  float *host_buffer;   /* pinned: the all-gather's and the small sums' buffer */
  size_t host_buffer_floats;
} staged_comm;

/* The stream is idle whenever this runs (every use starts with a wait), so no copy still reads
 * the old buffer. */
static float *pinned(float **buffer, size_t *floats, size_t needed) {
  if (needed <= *floats) return *buffer;
  if (*buffer) cudaCheck(cudaFreeHost(*buffer));
  cudaCheck(cudaMallocHost((void **)buffer, (needed ? needed : 1) * sizeof(float)));
  *floats = needed;
  return *buffer;
}

/* The device buffer to pinned memory, waited for under the wait guard. */
static float *stage_out(staged_comm *comm, float **host, size_t *host_floats, const float *device, size_t floats,
                        const char *what) {
  float *staged = pinned(host, host_floats, floats);
  cudaCheck(cudaMemcpyAsync(staged, device, floats * sizeof(float), cudaMemcpyDeviceToHost, comm->device.stream));
  gsvae_cuda_stream_wait(comm->device.stream, what);
  return staged;
}

static void staged_reduce_scatter(gsvae_comm *base, float *partials, const int *partial_counts, size_t count,
                                  size_t shard_count) {
  staged_comm *comm = (staged_comm *)base;
  cudaStream_t stream = comm->device.stream;
  int first_own, own = partial_counts[base->rank];
  int total = gsvae_device_comm_stage_own(&comm->device, partials, partial_counts, count, shard_count, &first_own);
  if (base->size == 1) {
    gsvae_device_comm_fold(&comm->device, partials, count, shard_count, total);
    return;
  }
  size_t mine, length;
  gsvae_device_comm_shard(base, base->rank, shard_count, count, &mine, &length);
  float *sent = stage_out(comm, &comm->host_partials, &comm->host_partials_floats, partials, (size_t)own * count,
                          "this rank's partials for the reduce-scatter");
  float *inbox = pinned(&comm->host_inbox, &comm->host_inbox_floats, (size_t)total * length);
  int requests = gsvae_mpi_post_pieces(base, sent, partial_counts, count, shard_count, inbox,
                                       gsvae_device_comm_requests(&comm->device, 2 * total * base->size));
  gsvae_device_comm_wait_mpi(&comm->device, requests, "reduce-scatter (MPI)");
  /* the received slots, before and after this rank's own */
  size_t before = (size_t)first_own * length, after = (size_t)(first_own + own) * length;
  if (before)
    cudaCheck(cudaMemcpyAsync(comm->device.inbox, inbox, before * sizeof(float), cudaMemcpyHostToDevice, stream));
  if ((size_t)total * length > after)
    cudaCheck(cudaMemcpyAsync(comm->device.inbox + after, inbox + after, ((size_t)total * length - after) * sizeof(float),
                              cudaMemcpyHostToDevice, stream));
  gsvae_device_comm_fold(&comm->device, partials, count, shard_count, total);
}

static void staged_allgather(gsvae_comm *base, float *buffer, size_t count) {
  staged_comm *comm = (staged_comm *)base;
  if (base->size == 1) return;
  float *host = stage_out(comm, &comm->host_buffer, &comm->host_buffer_floats, buffer, count,
                          "this rank's shard for the all-gather");
  for (int q = 0; q < base->size; q++) {
    size_t start, length;
    gsvae_device_comm_shard(base, q, count, count, &start, &length);
    comm->device.starts[q] = (int)start;
    comm->device.counts[q] = (int)length;
  }
  mpiCheck(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, host, comm->device.counts, comm->device.starts, MPI_FLOAT,
                           base->mpi, gsvae_device_comm_requests(&comm->device, 1)));
  gsvae_device_comm_wait_mpi(&comm->device, 1, "all-gather (MPI)");
  cudaCheck(cudaMemcpyAsync(buffer, host, count * sizeof(float), cudaMemcpyHostToDevice, comm->device.stream));
}

static void staged_allreduce_sum(gsvae_comm *base, float *buffer, size_t count) {
  staged_comm *comm = (staged_comm *)base;
  if (base->size == 1 || count == 0) return;
  float *host = stage_out(comm, &comm->host_buffer, &comm->host_buffer_floats, buffer, count,
                          "the values for the all-reduce");
  mpiCheck(MPI_Iallreduce(MPI_IN_PLACE, host, (int)count, MPI_FLOAT, MPI_SUM, base->mpi,
                          gsvae_device_comm_requests(&comm->device, 1)));
  gsvae_device_comm_wait_mpi(&comm->device, 1, "all-reduce (MPI)");
  cudaCheck(cudaMemcpyAsync(buffer, host, count * sizeof(float), cudaMemcpyHostToDevice, comm->device.stream));
}

static void staged_destroy(gsvae_comm *base) {
  staged_comm *comm = (staged_comm *)base;
  gsvae_cuda_stream_wait(comm->device.stream, "the last copies");
  gsvae_device_comm_release(&comm->device);
  float *buffers[3] = {comm->host_partials, comm->host_inbox, comm->host_buffer};
  for (int i = 0; i < 3; i++)
    if (buffers[i]) cudaCheck(cudaFreeHost(buffers[i]));
  free(comm);
}

gsvae_comm *gsvae_mpi_staged_comm_create(MPI_Comm mpi, void *cuda_stream, double timeout_s) {
  staged_comm *comm = callocCheck(1, sizeof *comm);
  gsvae_device_comm_init(&comm->device, "mpi-staged", mpi, (cudaStream_t)cuda_stream, timeout_s);
  gsvae_comm *base = &comm->device.base;
  base->eager = true;
  base->reduce_scatter = staged_reduce_scatter;
  base->allgather = staged_allgather;
  base->allreduce_sum = staged_allreduce_sum;
  base->destroy = staged_destroy;
  gsvae_cuda_set_wait_guard(gsvae_device_comm_wait_poll, &comm->device);
  return base;
}
