/* The NCCL communicator on the backend's stream (no host wait): the ordered fold of the chunk
 * partials to shard owners by grouped send/receive, the parameters' all-gather, small sums; host
 * sums and gathers over MPI. A non-blocking communicator whose asynchronous errors and a timeout
 * (GSVAE_NCCL_TIMEOUT seconds, default 300) end a failed or stuck job with a message. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "comm/comm.h"
#include "cuda/cuda.h"
#include "core/chunks.h"
#include "cuda/cuda_util.h"
#include "cuda/kernels.h"

typedef struct {
  gsvae_comm base;
  ncclComm_t nccl;
  cudaStream_t stream;
  gsvae_comm *host; /* the MPI communicator for host arrays */
  double timeout_s;
  float *inbox;     /* device: every partial of this rank's shard, in global order */
  size_t inbox_floats;
} nccl_comm;

static double seconds_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double timeout_from_env(void) {
  const char *text = getenv("GSVAE_NCCL_TIMEOUT");
  if (!text || !*text) return 300.0;
  char *end;
  errno = 0;
  double seconds = strtod(text, &end);
  if (errno || *end || !(seconds > 0))
    gsvae_fail(GSVAE_EXIT_USAGE, "GSVAE_NCCL_TIMEOUT='%s': expected a positive number of seconds", text);
  return seconds;
}

/* The wait guard: an asynchronous NCCL error (a peer gone, a network failure) aborts the
 * communicator so that its kernels stop spinning, and is reported. */
static int poll_async_error(void *context, char *message) {
  nccl_comm *comm = context;
  ncclResult_t state;
  ncclCheck(ncclCommGetAsyncError(comm->nccl, &state));
  if (state == ncclSuccess || state == ncclInProgress) return 0;
  snprintf(message, GSVAE_ERR_LEN, "NCCL reported an asynchronous error: %s (%s)", ncclGetErrorString(state),
           ncclGetLastError(comm->nccl));
  ncclCommAbort(comm->nccl);
  return -1;
}

/* A non-blocking communicator answers ncclInProgress until an operation is issued (init,
 * connection set-up, enqueue); wait for it, bounded by the timeout. */
static void wait_issued(nccl_comm *comm, const char *what) {
  double started = seconds_now();
  struct timespec nap = {0, 100000};
  for (;;) {
    ncclResult_t state;
    ncclCheck(ncclCommGetAsyncError(comm->nccl, &state));
    if (state == ncclSuccess) return;
    if (state != ncclInProgress) {
      const char *detail = ncclGetLastError(comm->nccl);
      ncclCommAbort(comm->nccl);
      gsvae_abort(GSVAE_EXIT_RUNTIME, "NCCL %s failed: %s (%s)", what, ncclGetErrorString(state), detail);
    }
    if (seconds_now() - started > comm->timeout_s) {
      ncclCommAbort(comm->nccl);
      gsvae_abort(GSVAE_EXIT_RUNTIME,
                  "NCCL %s: no progress for %.0f s (a rank missing or stuck? GSVAE_NCCL_TIMEOUT sets the limit)", what,
                  comm->timeout_s);
    }
    nanosleep(&nap, NULL);
  }
}

static void sum_on(nccl_comm *comm, float *buffer, size_t count, cudaStream_t stream) {
  if (count == 0) return;
  ncclCheck(ncclAllReduce(buffer, buffer, count, ncclFloat, ncclSum, comm->nccl, stream));
  wait_issued(comm, "all-reduce");
}

static void nccl_allreduce_sum(gsvae_comm *base, float *buffer, size_t count) {
  nccl_comm *comm = (nccl_comm *)base;
  sum_on(comm, buffer, count, comm->stream);
}

/* Shard q of a buffer whose shards split shard_count floats, the last one extended to `end`. */
static void shard_of(const gsvae_comm *base, int q, size_t shard_count, size_t end, size_t *start, size_t *length) {
  *start = gsvae_shard_start(shard_count, base->size, q);
  *length = (q + 1 == base->size ? end : gsvae_shard_start(shard_count, base->size, q + 1)) - *start;
}

/* In the global order of the partials in every mode: NCCL's own sums have no fixed order across
 * rank counts, and with one partial per rank this is as cheap. */
static void nccl_reduce_scatter(gsvae_comm *base, float *partials, const int *partial_counts, size_t count,
                                size_t shard_count) {
  nccl_comm *comm = (nccl_comm *)base;
  int rank = base->rank, total = 0;
  size_t mine, length;
  shard_of(base, rank, shard_count, count, &mine, &length);
  for (int q = 0; q < base->size; q++) total += partial_counts[q];
  if ((size_t)total * length > comm->inbox_floats)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "nccl: %d partials of a %zu-float shard exceed the %zu floats reserved", total,
                length, comm->inbox_floats);
  int index = 0;
  for (int q = 0; q < rank; q++) index += partial_counts[q];
  for (int p = 0; p < partial_counts[rank]; p++, index++)
    cudaCheck(cudaMemcpyAsync(comm->inbox + (size_t)index * length, partials + (size_t)p * count + mine,
                              length * sizeof(float), cudaMemcpyDeviceToDevice, comm->stream));
  ncclCheck(ncclGroupStart());
  index = 0;
  for (int q = 0; q < base->size; q++)
    for (int p = 0; p < partial_counts[q]; p++, index++)
      if (q != rank)
        ncclCheck(ncclRecv(comm->inbox + (size_t)index * length, length, ncclFloat, q, comm->nccl, comm->stream));
  for (int q = 0; q < base->size; q++) {
    size_t start, piece;
    shard_of(base, q, shard_count, count, &start, &piece);
    for (int p = 0; q != rank && p < partial_counts[rank]; p++)
      ncclCheck(ncclSend(partials + (size_t)p * count + start, piece, ncclFloat, q, comm->nccl, comm->stream));
  }
  ncclCheck(ncclGroupEnd());
  wait_issued(comm, "reduce-scatter");
  gsvae_launch_fold(partials + mine, comm->inbox, length, total, length, comm->stream);
}

static void nccl_allgather(gsvae_comm *base, float *buffer, size_t count) {
  nccl_comm *comm = (nccl_comm *)base;
  if (base->size == 1) return;
  size_t mine, length;
  shard_of(base, base->rank, count, count, &mine, &length);
  ncclCheck(ncclGroupStart());
  for (int q = 0; q < base->size; q++) {
    if (q == base->rank) continue;
    size_t start, piece;
    shard_of(base, q, count, count, &start, &piece);
    ncclCheck(ncclSend(buffer + mine, length, ncclFloat, q, comm->nccl, comm->stream));
    ncclCheck(ncclRecv(buffer + start, piece, ncclFloat, q, comm->nccl, comm->stream));
  }
  ncclCheck(ncclGroupEnd());
  wait_issued(comm, "all-gather");
}

void gsvae_nccl_reserve(gsvae_comm *base, size_t floats) {
  if (strcmp(base->name, "nccl") != 0)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "the CUDA backend needs the NCCL communicator, not '%s'", base->name);
  nccl_comm *comm = (nccl_comm *)base;
  if (floats <= comm->inbox_floats) return;
  gsvae_cuda_stream_wait(comm->stream, "the GPU before growing the reduction's buffer");
  if (comm->inbox) cudaCheck(cudaFree(comm->inbox));
  cudaCheck(cudaMalloc((void **)&comm->inbox, floats * sizeof(float)));
  comm->inbox_floats = floats;
}

static void nccl_gather_host(gsvae_comm *base, float *buffer, size_t count) {
  nccl_comm *comm = (nccl_comm *)base;
  comm->host->gather_host(comm->host, buffer, count);
}

static void nccl_allreduce_sum_host(gsvae_comm *base, double *values, int count) {
  nccl_comm *comm = (nccl_comm *)base;
  comm->host->allreduce_sum_host(comm->host, values, count);
}

static void nccl_destroy(gsvae_comm *base) {
  nccl_comm *comm = (nccl_comm *)base;
  gsvae_cuda_stream_wait(comm->stream, "the last all-reduce");
  ncclCheck(ncclCommFinalize(comm->nccl));
  wait_issued(comm, "finalize");
  gsvae_cuda_clear_wait_guard(comm);
  ncclCheck(ncclCommDestroy(comm->nccl));
  if (comm->inbox) cudaCheck(cudaFree(comm->inbox));
  comm->host->destroy(comm->host);
  free(comm);
}

gsvae_comm *gsvae_nccl_comm_create(MPI_Comm mpi, void *cuda_stream) {
  nccl_comm *comm = callocCheck(1, sizeof *comm);
  comm->host = gsvae_mpi_comm_create(mpi);
  comm->base.name = "nccl";
  comm->base.mpi = mpi;
  comm->base.rank = comm->host->rank;
  comm->base.size = comm->host->size;
  comm->base.reduce_scatter = nccl_reduce_scatter;
  comm->base.allgather = nccl_allgather;
  comm->base.gather_host = nccl_gather_host;
  comm->base.allreduce_sum = nccl_allreduce_sum;
  comm->base.allreduce_sum_host = nccl_allreduce_sum_host;
  comm->base.destroy = nccl_destroy;
  comm->stream = (cudaStream_t)cuda_stream;
  comm->timeout_s = timeout_from_env();

  ncclUniqueId id;
  if (comm->base.rank == 0) ncclCheck(ncclGetUniqueId(&id));
  mpiCheck(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, mpi));
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclCheck(ncclCommInitRankConfig(&comm->nccl, comm->base.size, id, comm->base.rank, &config));
  wait_issued(comm, "communicator set-up");
  gsvae_cuda_set_wait_guard(poll_async_error, comm, comm->timeout_s);

  /* One all-reduce now, so that connections are made before any step is captured as a graph. */
  float *probe;
  cudaCheck(cudaMalloc((void **)&probe, sizeof(float)));
  cudaCheck(cudaMemsetAsync(probe, 0, sizeof(float), comm->stream));
  sum_on(comm, probe, 1, comm->stream);
  gsvae_cuda_stream_wait(comm->stream, "the first NCCL all-reduce");
  cudaCheck(cudaFree(probe));
  return &comm->base;
}
