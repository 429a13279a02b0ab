/* What the GPU's two communicators share (nccl_comm.c, mpi_staged_comm.c): the inbox of every
 * partial of this rank's shard and its fold by one kernel for both, so that their bits agree; the
 * host collectives as non-blocking MPI polled under the timeout; and the one message a failed or
 * stuck collective ends the job with, naming the collective, the step and the rank. */
#pragma once
#include <mpi.h>
#include "comm/comm.h"
#include "cuda/cuda_util.h"

/* A reason's length: it goes into a GSVAE_ERR_LEN message after the place. */
enum { GSVAE_REASON_LEN = 512 };

typedef struct gsvae_device_comm gsvae_device_comm;
struct gsvae_device_comm {
  gsvae_comm base;
  cudaStream_t stream;    /* the backend's */
  double timeout_s;       /* device.timeout */
  float *inbox;           /* device: every partial of this rank's shard, in global order */
  size_t inbox_floats;
  MPI_Request *requests;  /* host collectives and staged messages */
  int requests_size;
  int *counts, *starts;   /* per rank: shard lengths and starts, as MPI's int arrays */
  /* The transport's own check while waiting (NCCL's asynchronous error): -1 with the reason in
   * message (GSVAE_REASON_LEN), else 0. NULL: none. */
  int (*poll_error)(gsvae_device_comm *comm, char *message);
  /* Stops the transport's work in flight before the job ends (ncclCommAbort). NULL: none. */
  void (*abort_transport)(gsvae_device_comm *comm);
};

/* Fills the shared fields and the host collectives; the transport sets the rest. */
void gsvae_device_comm_init(gsvae_device_comm *comm, const char *name, MPI_Comm mpi, cudaStream_t stream,
                            double timeout_s);
void gsvae_device_comm_release(gsvae_device_comm *comm);
/* Shard q of shard_count floats over the ranks, the last extended to `end`. */
void gsvae_device_comm_shard(const gsvae_comm *comm, int q, size_t shard_count, size_t end, size_t *start,
                             size_t *length);
/* The start of reduce_scatter for either transport: this rank's own partials' pieces of its shard
 * into their inbox slots; returns the number of partials over all ranks and sets `first_own`,
 * the slot of this rank's first. */
int gsvae_device_comm_stage_own(gsvae_device_comm *comm, const float *partials, const int *partial_counts,
                                size_t count, size_t shard_count, int *first_own);
/* The end of it: the inbox folded in global order into this rank's shard of the first partial. */
void gsvae_device_comm_fold(gsvae_device_comm *comm, float *partials, size_t count, size_t shard_count, int total);
/* Room for `count` MPI requests in comm->requests. */
MPI_Request *gsvae_device_comm_requests(gsvae_device_comm *comm, int count);
/* Waits for MPI requests, polling the transport's errors and the timeout. */
void gsvae_device_comm_wait_mpi(gsvae_device_comm *comm, int count, const char *collective);
/* Aborts the transport and ends the job: "rank R, step S, COLLECTIVE: reason". */
void gsvae_device_comm_fail(gsvae_device_comm *comm, const char *collective, const char *format, ...)
    __attribute__((format(printf, 3, 4), noreturn));
/* The wait guard every stream wait runs while the communicator lives. */
int gsvae_device_comm_wait_poll(void *context, double waited_s, char *message);
