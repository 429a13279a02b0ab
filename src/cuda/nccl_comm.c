/* The NCCL communicator on the backend's stream (no host wait, so a step is one CUDA graph): the
 * ordered fold of the chunk partials to shard owners by grouped send/receive, the parameters'
 * all-gather, small sums; host sums and gathers over polled MPI (device_comm.c). Non-blocking:
 * an asynchronous error or device.timeout seconds without progress aborts the communicator and
 * ends the job naming the collective, the step and the rank. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cuda/cuda.h"
#include "cuda/device_comm.h"
#include "cuda/kernels.h"

typedef struct {
  gsvae_device_comm device;
  ncclComm_t nccl;
  int aborted;
} nccl_comm;

static int poll_async_error(gsvae_device_comm *device, char *message) {
  nccl_comm *comm = (nccl_comm *)device;
  ncclResult_t state;
  ncclCheck(ncclCommGetAsyncError(comm->nccl, &state));
  if (state == ncclSuccess || state == ncclInProgress) return 0;
  snprintf(message, GSVAE_REASON_LEN, "NCCL reported an asynchronous error: %s (%s)", ncclGetErrorString(state),
           ncclGetLastError(comm->nccl));
  return -1;
}

/* Stops NCCL's kernels spinning on a peer that will not come, so that the process can end. */
static void abort_nccl(gsvae_device_comm *device) {
  nccl_comm *comm = (nccl_comm *)device;
  if (comm->aborted) return;
  comm->aborted = 1;
  ncclCommAbort(comm->nccl);
}

/* A non-blocking communicator answers ncclInProgress until an operation is issued (init,
 * connection set-up, enqueue); wait for it, bounded by the timeout. */
static void wait_issued(nccl_comm *comm, const char *collective) {
  double started = gsvae_seconds_now();
  struct timespec nap = {0, 100000};
  for (;;) {
    ncclResult_t state;
    ncclCheck(ncclCommGetAsyncError(comm->nccl, &state));
    if (state == ncclSuccess) return;
    if (state != ncclInProgress)
      gsvae_device_comm_fail(&comm->device, collective, "NCCL failed: %s (%s)", ncclGetErrorString(state),
                             ncclGetLastError(comm->nccl));
    double waited = gsvae_seconds_now() - started;
    if (waited > comm->device.timeout_s)
      gsvae_device_comm_fail(&comm->device, collective,
                             "not issued after %.0f s (device.timeout=%g): a rank missing or stuck? NCCL_DEBUG=WARN "
                             "shows NCCL's view (docs/gpu.md)", waited, comm->device.timeout_s);
    nanosleep(&nap, NULL);
  }
}

static void nccl_allreduce_sum(gsvae_comm *base, float *buffer, size_t count) {
  nccl_comm *comm = (nccl_comm *)base;
  if (count == 0) return;
  ncclCheck(ncclAllReduce(buffer, buffer, count, ncclFloat, ncclSum, comm->nccl, comm->device.stream));
  wait_issued(comm, "all-reduce");
}

/* In the global order of the partials in every mode: NCCL's own sums have no fixed order across
 * rank counts, and with one partial per rank this is as cheap. */
static void nccl_reduce_scatter(gsvae_comm *base, float *partials, const int *partial_counts, size_t count,
                                size_t shard_count) {
  nccl_comm *comm = (nccl_comm *)base;
  cudaStream_t stream = comm->device.stream;
  int rank = base->rank, first_own;
  int total = gsvae_device_comm_stage_own(&comm->device, partials, partial_counts, count, shard_count, &first_own);
  size_t mine, length;
  gsvae_device_comm_shard(base, rank, shard_count, count, &mine, &length);
  ncclCheck(ncclGroupStart());
  for (int q = 0, index = 0; q < base->size; q++)
    for (int p = 0; p < partial_counts[q]; p++, index++)
      if (q != rank)
        ncclCheck(ncclRecv(comm->device.inbox + (size_t)index * length, length, ncclFloat, q, comm->nccl, stream));
  for (int q = 0; q < base->size; q++) {
    size_t start, piece;
    gsvae_device_comm_shard(base, q, shard_count, count, &start, &piece);
    for (int p = 0; q != rank && p < partial_counts[rank]; p++)
      ncclCheck(ncclSend(partials + (size_t)p * count + start, piece, ncclFloat, q, comm->nccl, stream));
  }
  ncclCheck(ncclGroupEnd());
  wait_issued(comm, "reduce-scatter");
  gsvae_device_comm_fold(&comm->device, partials, count, shard_count, total);
}

static void nccl_allgather(gsvae_comm *base, float *buffer, size_t count) {
  nccl_comm *comm = (nccl_comm *)base;
  if (base->size == 1) return;
  size_t mine, length;
  gsvae_device_comm_shard(base, base->rank, count, count, &mine, &length);
  ncclCheck(ncclGroupStart());
  for (int q = 0; q < base->size; q++) {
    if (q == base->rank) continue;
    size_t start, piece;
    gsvae_device_comm_shard(base, q, count, count, &start, &piece);
    ncclCheck(ncclSend(buffer + mine, length, ncclFloat, q, comm->nccl, comm->device.stream));
    ncclCheck(ncclRecv(buffer + start, piece, ncclFloat, q, comm->nccl, comm->device.stream));
  }
  ncclCheck(ncclGroupEnd());
  wait_issued(comm, "all-gather");
}

static void nccl_destroy(gsvae_comm *base) {
  nccl_comm *comm = (nccl_comm *)base;
  gsvae_cuda_stream_wait(comm->device.stream, "the last collectives");
  ncclCheck(ncclCommFinalize(comm->nccl));
  wait_issued(comm, "finalize");
  gsvae_device_comm_release(&comm->device);
  ncclCheck(ncclCommDestroy(comm->nccl));
  free(comm);
}

/* Connections are made on a peer's first use; a graph capture must not be that first use. One
 * all-reduce (the ring and tree channels) and one grouped send and receive of a float with every
 * peer (the peer-to-peer ones the fold and the all-gather use), eagerly. */
static void warm_up(nccl_comm *comm) {
  gsvae_comm *base = &comm->device.base;
  cudaStream_t stream = comm->device.stream;
  float *probe;
  cudaCheck(cudaMalloc((void **)&probe, 2 * (size_t)base->size * sizeof(float)));
  cudaCheck(cudaMemsetAsync(probe, 0, 2 * (size_t)base->size * sizeof(float), stream));
  nccl_allreduce_sum(base, probe, 1);
  ncclCheck(ncclGroupStart());
  for (int q = 0; q < base->size; q++)
    if (q != base->rank) {
      ncclCheck(ncclSend(probe + q, 1, ncclFloat, q, comm->nccl, stream));
      ncclCheck(ncclRecv(probe + base->size + q, 1, ncclFloat, q, comm->nccl, stream));
    }
  ncclCheck(ncclGroupEnd());
  wait_issued(comm, "warm-up send/receive with every peer");
  gsvae_cuda_stream_wait(stream, "NCCL's warm-up with every peer");
  cudaCheck(cudaFree(probe));
}

gsvae_comm *gsvae_nccl_comm_create(MPI_Comm mpi, void *cuda_stream, double timeout_s) {
  nccl_comm *comm = callocCheck(1, sizeof *comm);
  gsvae_device_comm_init(&comm->device, "nccl", mpi, (cudaStream_t)cuda_stream, timeout_s);
  comm->device.poll_error = poll_async_error;
  comm->device.abort_transport = abort_nccl;
  gsvae_comm *base = &comm->device.base;
  base->reduce_scatter = nccl_reduce_scatter;
  base->allgather = nccl_allgather;
  base->allreduce_sum = nccl_allreduce_sum;
  base->destroy = nccl_destroy;

  ncclUniqueId id;
  if (base->rank == 0) ncclCheck(ncclGetUniqueId(&id));
  mpiCheck(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, mpi));
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclCheck(ncclCommInitRankConfig(&comm->nccl, base->size, id, base->rank, &config));
  wait_issued(comm, "communicator set-up");
  gsvae_cuda_set_wait_guard(gsvae_device_comm_wait_poll, &comm->device);
  warm_up(comm);
  return base;
}
