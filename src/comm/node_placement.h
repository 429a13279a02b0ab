/* Where a rank sits on its node, found once over MPI_COMM_WORLD before a sweep splits the world
 * into groups (every group shares the node's cores and GPUs), and handed down into training, so
 * that a run never calls a collective on the world. The choices made from it (BLAS threads in
 * cpu/threads.h, the GPU in core/device_choice.h) are plain functions of it. */
#pragma once
#include <mpi.h>

typedef struct {
  int local_rank;  /* this rank's index among the world's ranks on its node */
  int local_ranks; /* the world's ranks on this node */
} gsvae_node_placement;

/* Collective over `world` (MPI_COMM_TYPE_SHARED): every rank of it must call it, at the same time. */
gsvae_node_placement gsvae_node_placement_find(MPI_Comm world);
