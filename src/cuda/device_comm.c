/* The parts of the GPU communicators that do not depend on how bytes move (device_comm.h). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/chunks.h"
#include "cuda/device_comm.h"
#include "cuda/kernels.h"

void gsvae_device_comm_shard(const gsvae_comm *comm, int q, size_t shard_count, size_t end, size_t *start,
                             size_t *length) {
  *start = gsvae_shard_start(shard_count, comm->size, q);
  *length = gsvae_shard_end(shard_count, comm->size, q, end) - *start;
}

int gsvae_device_comm_stage_own(gsvae_device_comm *comm, const float *partials, const int *partial_counts,
                                size_t count, size_t shard_count, int *first_own) {
  int rank = comm->base.rank, total = 0;
  size_t mine, length;
  gsvae_device_comm_shard(&comm->base, rank, shard_count, count, &mine, &length);
  for (int q = 0; q < comm->base.size; q++) {
    if (q == rank) *first_own = total;
    total += partial_counts[q];
  }
  if ((size_t)total * length > comm->inbox_floats)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "%s: %d partials of a %zu-float shard exceed the %zu floats reserved",
                comm->base.name, total, length, comm->inbox_floats);
  for (int p = 0; p < partial_counts[rank]; p++)
    cudaCheck(cudaMemcpyAsync(comm->inbox + (size_t)(*first_own + p) * length, partials + (size_t)p * count + mine,
                              length * sizeof(float), cudaMemcpyDeviceToDevice, comm->stream));
  return total;
}

void gsvae_device_comm_fold(gsvae_device_comm *comm, float *partials, size_t count, size_t shard_count, int total) {
  size_t mine, length;
  gsvae_device_comm_shard(&comm->base, comm->base.rank, shard_count, count, &mine, &length);
  gsvae_launch_fold(partials + mine, comm->inbox, length, total, length, comm->stream);
}

MPI_Request *gsvae_device_comm_requests(gsvae_device_comm *comm, int count) {
  if (count > comm->requests_size) {
    free(comm->requests);
    comm->requests = mallocCheck((size_t)count * sizeof *comm->requests);
    comm->requests_size = count;
  }
  return comm->requests;
}

/* "nccl communicator, rank 2 of 4, step 1234" (the loop sets the step; -1 before the first). */
static void describe_place(const gsvae_device_comm *comm, char *text, size_t size) {
  int used = snprintf(text, size, "%s communicator, rank %d of %d, ", comm->base.name, comm->base.rank,
                      comm->base.size);
  if (comm->base.step < 0) snprintf(text + used, size - used, "before the first step");
  else snprintf(text + used, size - used, "step %ld", comm->base.step);
}

void gsvae_device_comm_fail(gsvae_device_comm *comm, const char *collective, const char *format, ...) {
  char reason[GSVAE_REASON_LEN];
  va_list args;
  va_start(args, format);
  vsnprintf(reason, sizeof reason, format, args);
  va_end(args);
  if (comm->abort_transport) comm->abort_transport(comm);
  char place[256];
  describe_place(comm, place, sizeof place);
  gsvae_abort(GSVAE_EXIT_RUNTIME, "%s, %s: %s", place, collective, reason);
}

static void timed_out_message(const gsvae_device_comm *comm, double waited_s, char *message) {
  snprintf(message, GSVAE_REASON_LEN,
           "no progress for %.0f s (device.timeout=%g): a peer rank stuck or gone? NCCL_DEBUG=WARN shows NCCL's "
           "view (docs/gpu.md)", waited_s, comm->timeout_s);
}

void gsvae_device_comm_wait_mpi(gsvae_device_comm *comm, int count, const char *collective) {
  double started = gsvae_seconds_now();
  struct timespec nap = {0, 20000};
  for (;;) {
    int done = 0;
    mpiCheck(MPI_Testall(count, comm->requests, &done, MPI_STATUSES_IGNORE));
    if (done) return;
    char message[GSVAE_REASON_LEN];
    if (comm->poll_error && comm->poll_error(comm, message)) gsvae_device_comm_fail(comm, collective, "%s", message);
    double waited = gsvae_seconds_now() - started;
    if (waited > comm->timeout_s) {
      timed_out_message(comm, waited, message);
      gsvae_device_comm_fail(comm, collective, "%s", message);
    }
    nanosleep(&nap, NULL);
  }
}

int gsvae_device_comm_wait_poll(void *context, double waited_s, char *message) {
  gsvae_device_comm *comm = context;
  char reason[GSVAE_REASON_LEN];
  if (!(comm->poll_error && comm->poll_error(comm, reason))) {
    if (waited_s <= comm->timeout_s) return 0;
    timed_out_message(comm, waited_s, reason);
  }
  if (comm->abort_transport) comm->abort_transport(comm);
  char place[256];
  describe_place(comm, place, sizeof place);
  snprintf(message, GSVAE_ERR_LEN, "%s, the collectives on the stream: %s", place, reason);
  return -1;
}

/* MPI counts are int: shards beyond 2^31 floats per rank would need split messages. */
static int int_count(size_t count) {
  if (count > INT32_MAX)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "a shard of %zu floats exceeds one MPI message (2^31 - 1)", count);
  return (int)count;
}

/* The host collectives, non-blocking and polled: a peer that never arrives ends the job after
 * device.timeout with the collective named, instead of holding the healthy ranks in MPI until the
 * step watchdog. */
static void host_allreduce(gsvae_comm *base, void *values, int count, MPI_Datatype type, MPI_Op op,
                           const char *collective) {
  gsvae_device_comm *comm = (gsvae_device_comm *)base;
  if (base->size == 1) return;
  mpiCheck(MPI_Iallreduce(MPI_IN_PLACE, values, count, type, op, base->mpi, gsvae_device_comm_requests(comm, 1)));
  gsvae_device_comm_wait_mpi(comm, 1, collective);
}

static void device_allreduce_sum_host(gsvae_comm *base, double *values, int count) {
  host_allreduce(base, values, count, MPI_DOUBLE, MPI_SUM, "host sum (MPI)");
}

static void device_allreduce_max_host(gsvae_comm *base, int *values, int count) {
  host_allreduce(base, values, count, MPI_INT, MPI_MAX, "stop-signal agreement (MPI)");
}

static void device_gather_host(gsvae_comm *base, float *buffer, size_t count) {
  gsvae_device_comm *comm = (gsvae_device_comm *)base;
  if (base->size == 1) return;
  for (int q = 0; q < base->size; q++) {
    size_t start, length;
    gsvae_device_comm_shard(base, q, count, count, &start, &length);
    comm->starts[q] = int_count(start);
    comm->counts[q] = int_count(length);
  }
  MPI_Request *request = gsvae_device_comm_requests(comm, 1);
  int rank = base->rank;
  if (rank == 0)
    mpiCheck(MPI_Igatherv(MPI_IN_PLACE, 0, MPI_FLOAT, buffer, comm->counts, comm->starts, MPI_FLOAT, 0, base->mpi,
                          request));
  else
    mpiCheck(MPI_Igatherv(buffer + comm->starts[rank], comm->counts[rank], MPI_FLOAT, NULL, NULL, NULL, MPI_FLOAT, 0,
                          base->mpi, request));
  gsvae_device_comm_wait_mpi(comm, 1, "gather to rank 0 (MPI)");
}

void gsvae_device_comm_init(gsvae_device_comm *comm, const char *name, MPI_Comm mpi, cudaStream_t stream,
                            double timeout_s) {
  comm->base.name = name;
  comm->base.mpi = mpi;
  comm->base.step = -1;
  mpiCheck(MPI_Comm_rank(mpi, &comm->base.rank));
  mpiCheck(MPI_Comm_size(mpi, &comm->base.size));
  comm->base.allreduce_sum_host = device_allreduce_sum_host;
  comm->base.allreduce_max_host = device_allreduce_max_host;
  comm->base.gather_host = device_gather_host;
  comm->stream = stream;
  comm->timeout_s = timeout_s;
  comm->counts = callocCheck((size_t)comm->base.size, sizeof(int));
  comm->starts = callocCheck((size_t)comm->base.size, sizeof(int));
}

void gsvae_device_comm_release(gsvae_device_comm *comm) {
  gsvae_cuda_clear_wait_guard(comm);
  if (comm->inbox) cudaCheck(cudaFree(comm->inbox));
  free(comm->requests);
  free(comm->counts);
  free(comm->starts);
}

void gsvae_device_comm_reserve(gsvae_comm *base, size_t floats) {
  if (strcmp(base->name, "nccl") != 0 && strcmp(base->name, "mpi-staged") != 0)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "the CUDA backend needs a GPU communicator (nccl or mpi-staged), not '%s'",
                base->name);
  gsvae_device_comm *comm = (gsvae_device_comm *)base;
  if (floats <= comm->inbox_floats) return;
  gsvae_cuda_stream_wait(comm->stream, "the GPU before growing the reduction's buffer");
  if (comm->inbox) cudaCheck(cudaFree(comm->inbox));
  cudaCheck(cudaMalloc((void **)&comm->inbox, floats * sizeof(float)));
  comm->inbox_floats = floats;
}
