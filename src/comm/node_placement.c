/* A rank's place on its node (node_placement.h): found once over the world. */
#include "core/check.h"
#include "comm/node_placement.h"

gsvae_node_placement gsvae_node_placement_find(MPI_Comm world) {
  MPI_Comm node;
  gsvae_node_placement placement;
  mpiCheck(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  mpiCheck(MPI_Comm_rank(node, &placement.local_rank));
  mpiCheck(MPI_Comm_size(node, &placement.local_ranks));
  mpiCheck(MPI_Comm_free(&node));
  return placement;
}
