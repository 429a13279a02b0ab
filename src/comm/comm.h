/* Communicators: the gradient reduction over ranks (a fold in a fixed order, or the library's
 * sum), the all-gather of the parameters, and small host sums and gathers (MPI on host memory,
 * NCCL on device memory); the loop and the backends never know which. */
#pragma once
#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct gsvae_comm gsvae_comm;
struct gsvae_comm {
  const char *name;
  int rank, size;
  MPI_Comm mpi;  /* the ranks training this model (a sweep group, or MPI_COMM_WORLD) */
  bool eager;    /* its collectives wait on the host: a GPU backend cannot capture them in a graph */
  long step;     /* the training step in progress (set by the loop), named when a collective fails */
  /* The gradient sum over ranks, scattered to shard owners. Rank q holds partial_counts[q]
   * buffers of `count` floats, back to back in `partials` (the backend's memory); the global order
   * of the partials is rank 0's, then rank 1's, ... Each rank receives its shard
   * [gsvae_shard_start(shard_count, size, rank), ...+1) of the sum, the last shard extended to
   * `count`, in place in its first partial buffer. Always the ordered fold (core/chunks.h): the
   * partials are added in the global order as floats, ((p0 + p1) + p2) + ..., so the bits depend
   * on the partials alone, not on how the ranks hold them. */
  void (*reduce_scatter)(gsvae_comm *comm, float *partials, const int *partial_counts, size_t count,
                         size_t shard_count);
  /* In place: every rank's shard of `count` floats (the backend's memory) to every rank. */
  void (*allgather)(gsvae_comm *comm, float *buffer, size_t count);
  /* In-place sum of `count` floats in the backend's memory across ranks (used where only one rank
   * adds a value that is not zero, so that the order does not matter). */
  void (*allreduce_sum)(gsvae_comm *comm, float *buffer, size_t count);
  /* In-place sum of host doubles across ranks (always over MPI). */
  void (*allreduce_sum_host)(gsvae_comm *comm, double *values, int count);
  /* In-place maximum of host ints across ranks (always over MPI): the stop signal's agreement. */
  void (*allreduce_max_host)(gsvae_comm *comm, int *values, int count);
  /* In place: every rank's shard of a host buffer of `count` floats to rank 0 (over MPI). */
  void (*gather_host)(gsvae_comm *comm, float *buffer, size_t count);
  /* Buffers that reduce_scatter (as `partials`) and allgather (as `buffer`) then work on in place,
   * with no copies between processes: `count` floats, zeroed, the communicator's until destroy.
   * common: one buffer that every rank reads and each writes only its shard of; else this rank's
   * own, which the others read. NULL (the member) where the ranks cannot share memory (several
   * nodes, device memory, or not asked for): the backend keeps its own buffers. Collective. */
  float *(*shared_floats)(gsvae_comm *comm, size_t count, bool common);
  void (*destroy)(gsvae_comm *comm);
};

/* The MPI communicator over host memory (mpi.c); with node_shared_memory, ranks that are all on
 * one node get shared_floats. Collective over `mpi`. */
gsvae_comm *gsvae_mpi_comm_create(MPI_Comm mpi, bool node_shared_memory);
/* The ordered fold's data movement without the adding, for a communicator that adds elsewhere
 * (the GPU's MPI-staged one folds on the GPU): posts the receives of the other ranks' partials of
 * this rank's shard into inbox slot i (the partial's global index; `length` floats each, this
 * rank's own slots untouched) and the sends of this rank's partials' pieces to their owners, each
 * piece its own message tagged with its partial's index. Shards as reduce_scatter's. Returns the
 * number of requests written: at most 2 x (all partials) x size. */
int gsvae_mpi_post_pieces(const gsvae_comm *comm, const float *partials, const int *partial_counts, size_t count,
                          size_t shard_count, float *inbox, MPI_Request *requests);

/* MPI_Init (thread level funneled) and this process's rank in gsvae_world_rank/size. */
void gsvae_mpi_start(int *argc, char ***argv);
/* Whether mpirun or srun started this process (read before MPI_Init, which sets the same
 * variables for a singleton): they give ranks a pseudo-terminal even when logging to a file,
 * so a terminal is believed only for a plain `gsvae train`. */
extern bool gsvae_started_by_launcher;
