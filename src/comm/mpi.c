/* MPI start-up and the MPI communicator over host memory: the ordered fold of the ranks' chunk
 * gradients to shard owners, the parameters' all-gather, host sums. Ranks on one node fold
 * straight out of each other's partials and share one copy of the parameters (node_window.h);
 * across nodes, each piece travels as a message. */
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/chunks.h"
#include "comm/comm.h"
#include "comm/node_window.h"

bool gsvae_started_by_launcher;

/* Buffers a backend may take from shared_floats: its partials and its parameters. */
#define GSVAE_MAX_SHARED_BUFFERS 4

typedef struct {
  gsvae_comm base;
  float *inbox;          /* the other ranks' partials of this rank's shard, in global order */
  size_t inbox_floats;
  int *counts, *starts;  /* per rank: shard lengths and starts, as MPI's int arrays */
  MPI_Request *requests;
  const float **sources; /* the fold's inputs in global order */
  int sources_size;
  gsvae_node_window windows[GSVAE_MAX_SHARED_BUFFERS]; /* shared_floats' buffers */
  int window_count;
} mpi_comm;

void gsvae_mpi_start(int *argc, char ***argv) {
  gsvae_started_by_launcher =
      getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK") || getenv("SLURM_PROCID");
  int provided = 0;
  mpiCheck(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
  /* Errors come back to mpiCheck, which names the call, instead of MPI's default abort. */
  mpiCheck(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  mpiCheck(MPI_Comm_rank(MPI_COMM_WORLD, &gsvae_world_rank));
  mpiCheck(MPI_Comm_size(MPI_COMM_WORLD, &gsvae_world_size));
  gsvae_group_rank = gsvae_world_rank;
}

/* MPI counts are int: shards of a model beyond 2^31 floats per rank would need split messages. */
static int int_count(size_t count) {
  if (count > INT32_MAX)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "a shard of %zu floats exceeds one MPI message (2^31 - 1)", count);
  return (int)count;
}

/* Shard q is [starts[q], starts[q] + counts[q]); the last one ends at `end`. */
static void shard_layout(mpi_comm *comm, size_t shard_count, size_t end) {
  int size = comm->base.size;
  for (int q = 0; q < size; q++) {
    size_t start = gsvae_shard_start(shard_count, size, q);
    size_t stop = gsvae_shard_end(shard_count, size, q, end);
    comm->starts[q] = int_count(start);
    comm->counts[q] = int_count(stop - start);
  }
}

static void *grown(void *buffer, size_t bytes) {
  void *bigger = realloc(buffer, bytes ? bytes : 1);
  if (!bigger) gsvae_abort(GSVAE_EXIT_RUNTIME, "out of memory growing a communication buffer to %zu bytes", bytes);
  return bigger;
}

int gsvae_mpi_post_pieces(const gsvae_comm *comm, const float *partials, const int *partial_counts, size_t count,
                          size_t shard_count, float *inbox, MPI_Request *requests) {
  int size = comm->size, rank = comm->rank, posted = 0, index = 0;
  size_t mine = gsvae_shard_start(shard_count, size, rank);
  size_t length = gsvae_shard_end(shard_count, size, rank, count) - mine;
  for (int q = 0; q < size; q++)
    for (int p = 0; p < partial_counts[q]; p++, index++)
      if (q != rank)
        mpiCheck(MPI_Irecv(inbox + (size_t)index * length, int_count(length), MPI_FLOAT, q, p, comm->mpi,
                           &requests[posted++]));
  for (int q = 0; q < size; q++) {
    if (q == rank) continue;
    size_t start = gsvae_shard_start(shard_count, size, q);
    size_t stop = gsvae_shard_end(shard_count, size, q, count);
    for (int p = 0; p < partial_counts[rank]; p++)
      mpiCheck(MPI_Isend(partials + (size_t)p * count + start, int_count(stop - start), MPI_FLOAT, q, p, comm->mpi,
                         &requests[posted++]));
  }
  return posted;
}

/* The window whose buffer on this rank is `buffer`, of that kind; NULL if none. */
static gsvae_node_window *window_of(mpi_comm *comm, const float *buffer, bool common) {
  for (int i = 0; i < comm->window_count; i++)
    if (comm->windows[i].mine == buffer && comm->windows[i].common == common) return &comm->windows[i];
  return NULL;
}

/* The ordered fold in every mode: each piece sent straight to its shard's owner and folded there
 * measured faster than MPI_Reduce_scatter at 2 ranks (14.4 against 16.2 ms a step,
 * bench/reduction/results/deterministic_reduction.md), and it moves the same bytes. Partials in a
 * node window are not sent at all: the owner folds them where they lie, in the same order, so the
 * bits are the messages' bits. */
static void mpi_reduce_scatter(gsvae_comm *base, float *partials, const int *partial_counts, size_t count,
                               size_t shard_count) {
  mpi_comm *comm = (mpi_comm *)base;
  int size = base->size, rank = base->rank;
  shard_layout(comm, shard_count, count);
  size_t mine = (size_t)comm->starts[rank], length = (size_t)comm->counts[rank];
  int total = 0, first_mine = 0;
  for (int q = 0; q < size; q++) {
    if (q == rank) first_mine = total;
    total += partial_counts[q];
  }
  if (total > comm->sources_size) {
    comm->sources = grown(comm->sources, (size_t)total * sizeof *comm->sources);
    comm->requests = grown(comm->requests, (size_t)2 * total * size * sizeof *comm->requests);
    comm->sources_size = total;
  }
  gsvae_node_window *shared = window_of(comm, partials, false);
  if (!shared && (size_t)total * length > comm->inbox_floats) {
    comm->inbox_floats = (size_t)total * length;
    comm->inbox = grown(comm->inbox, comm->inbox_floats * sizeof(float));
  }
  for (int q = 0, index = 0; q < size; q++)
    for (int p = 0; p < partial_counts[q]; p++, index++)
      comm->sources[index] = q == rank ? partials + (size_t)p * count + mine
                             : shared  ? shared->bases[q] + (size_t)p * count + mine
                                       : comm->inbox + (size_t)index * length;
  if (shared) {
    if ((size_t)partial_counts[rank] * count > shared->count)
      gsvae_abort(GSVAE_EXIT_RUNTIME, "reduce_scatter: %d partials of %zu floats overrun the %zu-float shared buffer",
                  partial_counts[rank], count, shared->count);
    gsvae_node_window_sync(shared); /* every rank's partials written */
  } else {
    int requests =
        gsvae_mpi_post_pieces(base, partials, partial_counts, count, shard_count, comm->inbox, comm->requests);
    mpiCheck(MPI_Waitall(requests, comm->requests, MPI_STATUSES_IGNORE));
  }
  if (total > 1 || first_mine != 0) gsvae_fold_in_order(partials + mine, comm->sources, total, 0, length);
  /* every rank done reading the others' partials before any of them writes the next step's */
  if (shared) gsvae_node_window_sync(shared);
}

static void mpi_allgather(gsvae_comm *base, float *buffer, size_t count) {
  mpi_comm *comm = (mpi_comm *)base;
  if (base->size == 1) return;
  gsvae_node_window *shared = window_of(comm, buffer, true);
  if (shared) { /* one buffer for all: each rank's stores into its shard, made visible to all */
    gsvae_node_window_sync(shared);
    return;
  }
  shard_layout(comm, count, count);
  mpiCheck(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, buffer, comm->counts, comm->starts, MPI_FLOAT, base->mpi));
}

static void mpi_gather_host(gsvae_comm *base, float *buffer, size_t count) {
  mpi_comm *comm = (mpi_comm *)base;
  if (base->size == 1) return;
  shard_layout(comm, count, count);
  int rank = base->rank;
  if (rank == 0)
    mpiCheck(MPI_Gatherv(MPI_IN_PLACE, 0, MPI_FLOAT, buffer, comm->counts, comm->starts, MPI_FLOAT, 0, base->mpi));
  else
    mpiCheck(MPI_Gatherv(buffer + comm->starts[rank], comm->counts[rank], MPI_FLOAT, NULL, NULL, NULL, MPI_FLOAT, 0,
                         base->mpi));
}

static void mpi_allreduce_sum(gsvae_comm *comm, float *buffer, size_t count) {
  if (comm->size == 1) return;
  mpiCheck(MPI_Allreduce(MPI_IN_PLACE, buffer, int_count(count), MPI_FLOAT, MPI_SUM, comm->mpi));
}

static void mpi_allreduce_sum_host(gsvae_comm *comm, double *values, int count) {
  if (comm->size == 1) return;
  mpiCheck(MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, comm->mpi));
}

static void mpi_allreduce_max_host(gsvae_comm *comm, int *values, int count) {
  if (comm->size == 1) return;
  mpiCheck(MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_INT, MPI_MAX, comm->mpi));
}

static float *mpi_shared_floats(gsvae_comm *base, size_t count, bool common) {
  mpi_comm *comm = (mpi_comm *)base;
  if (comm->window_count == GSVAE_MAX_SHARED_BUFFERS)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "shared_floats: more than %d shared buffers asked for", GSVAE_MAX_SHARED_BUFFERS);
  gsvae_node_window *window = &comm->windows[comm->window_count++];
  gsvae_node_window_create(window, base->mpi, count, common);
  return window->mine;
}

static void mpi_destroy(gsvae_comm *base) {
  mpi_comm *comm = (mpi_comm *)base;
  for (int i = 0; i < comm->window_count; i++) gsvae_node_window_free(&comm->windows[i]);
  free(comm->inbox);
  free(comm->counts);
  free(comm->starts);
  free(comm->requests);
  free(comm->sources);
  free(comm);
}

gsvae_comm *gsvae_mpi_comm_create(MPI_Comm mpi, bool node_shared_memory) {
  mpi_comm *comm = callocCheck(1, sizeof *comm);
  gsvae_comm *base = &comm->base;
  base->name = "mpi";
  base->mpi = mpi;
  mpiCheck(MPI_Comm_rank(mpi, &base->rank));
  mpiCheck(MPI_Comm_size(mpi, &base->size));
  base->reduce_scatter = mpi_reduce_scatter;
  base->allgather = mpi_allgather;
  base->allreduce_sum = mpi_allreduce_sum;
  base->allreduce_sum_host = mpi_allreduce_sum_host;
  base->allreduce_max_host = mpi_allreduce_max_host;
  base->gather_host = mpi_gather_host;
  base->destroy = mpi_destroy;
  if (node_shared_memory && base->size > 1 && gsvae_node_window_possible(mpi)) {
    base->name = "mpi, shared memory (one node)";
    base->shared_floats = mpi_shared_floats;
  }
  comm->counts = callocCheck((size_t)base->size, sizeof(int));
  comm->starts = callocCheck((size_t)base->size, sizeof(int));
  return base;
}
