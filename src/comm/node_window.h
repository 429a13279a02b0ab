/* Shared-memory windows among ranks of one node: float buffers that the other ranks read and
 * write in place (MPI_Win_allocate_shared), so that the ordered fold and the parameters' all-gather
 * need no copies between processes. A window is either each rank's own buffer, which the others
 * read (the partial gradients), or one buffer common to all of them (the parameters). */
#pragma once
#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
  MPI_Win window;
  MPI_Comm comm;   /* the ranks sharing it: all on one node */
  float **bases;   /* per rank, where its buffer starts in this process (common: all the same) */
  float *mine;     /* this rank's buffer (common: the one buffer) */
  size_t count;    /* floats in each rank's buffer (common: in the one buffer) */
  bool common;
} gsvae_node_window;

/* Whether every rank of `comm` can share memory with every other (one node). Collective. */
bool gsvae_node_window_possible(MPI_Comm comm);
/* Collective over `comm`: `count` floats a rank (common: one buffer of `count`), zeroed by their
 * owners, in a passive-target epoch that lasts until free, so that loads and stores need only
 * gsvae_node_window_sync between them. */
void gsvae_node_window_create(gsvae_node_window *window, MPI_Comm comm, size_t count, bool common);
/* Collective: every rank's stores into the window before it are seen by every rank's loads after
 * it (MPI's separate-model recipe: MPI_Win_sync, a barrier, MPI_Win_sync). */
void gsvae_node_window_sync(gsvae_node_window *window);
/* Collective over the window's communicator. */
void gsvae_node_window_free(gsvae_node_window *window);
