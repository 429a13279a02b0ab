/* Shared-memory windows among ranks of one node (node_window.h). */
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/chunks.h"
#include "comm/node_window.h"

bool gsvae_node_window_possible(MPI_Comm comm) {
  int size = 0, node_size = 0, rank = 0;
  MPI_Comm node;
  mpiCheck(MPI_Comm_size(comm, &size));
  mpiCheck(MPI_Comm_rank(comm, &rank));
  mpiCheck(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node));
  mpiCheck(MPI_Comm_size(node, &node_size));
  mpiCheck(MPI_Comm_free(&node));
  /* one node's ranks in every rank's view alike: a split node would give some ranks a smaller
   * size, so the answer is agreed before anyone allocates */
  int everywhere = node_size == size;
  mpiCheck(MPI_Allreduce(MPI_IN_PLACE, &everywhere, 1, MPI_INT, MPI_LAND, comm));
  return everywhere;
}

void gsvae_node_window_create(gsvae_node_window *window, MPI_Comm comm, size_t count, bool common) {
  int rank = 0, size = 0;
  mpiCheck(MPI_Comm_rank(comm, &rank));
  mpiCheck(MPI_Comm_size(comm, &size));
  *window = (gsvae_node_window){.comm = comm, .count = count, .common = common};
  /* Each rank's segment page-aligned on its own: its pages land on the NUMA node of the rank that
   * first touches them (the owner, zeroing them below), not all on rank 0's. */
  MPI_Info info;
  mpiCheck(MPI_Info_create(&info));
  mpiCheck(MPI_Info_set(info, "alloc_shared_noncontig", "true"));
  size_t floats = common && rank != 0 ? 0 : count;
  float *mine = NULL;
  mpiCheck(MPI_Win_allocate_shared((MPI_Aint)(floats * sizeof(float)), sizeof(float), info, comm, &mine,
                                   &window->window));
  mpiCheck(MPI_Info_free(&info));
  mpiCheck(MPI_Win_set_errhandler(window->window, MPI_ERRORS_RETURN));
  window->bases = callocCheck((size_t)size, sizeof *window->bases);
  for (int q = 0; q < size; q++) {
    MPI_Aint bytes = 0;
    int unit = 0;
    mpiCheck(MPI_Win_shared_query(window->window, common ? 0 : q, &bytes, &unit, &window->bases[q]));
    if ((size_t)bytes < count * sizeof(float))
      gsvae_abort(GSVAE_EXIT_RUNTIME, "a shared-memory window of rank %d holds %zu bytes, not the %zu asked for",
                  common ? 0 : q, (size_t)bytes, count * sizeof(float));
  }
  window->mine = window->bases[rank];
  mpiCheck(MPI_Win_lock_all(MPI_MODE_NOCHECK, window->window));
  if (common) { /* each rank zeroes the shard it will write (comm.h's), so that it first touches its pages */
    size_t start = gsvae_shard_start(count, size, rank);
    size_t end = gsvae_shard_end(count, size, rank, count);
    memset(window->mine + start, 0, (end - start) * sizeof(float));
  } else {
    memset(window->mine, 0, count * sizeof(float));
  }
  gsvae_node_window_sync(window);
}

void gsvae_node_window_sync(gsvae_node_window *window) {
  mpiCheck(MPI_Win_sync(window->window));
  mpiCheck(MPI_Barrier(window->comm));
  mpiCheck(MPI_Win_sync(window->window));
}

void gsvae_node_window_free(gsvae_node_window *window) {
  if (!window->bases) return;
  mpiCheck(MPI_Win_unlock_all(window->window));
  mpiCheck(MPI_Win_free(&window->window));
  free(window->bases);
  *window = (gsvae_node_window){0};
}
