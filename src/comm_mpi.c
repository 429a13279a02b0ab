/* MPI start-up and the MPI communicator: in-place sums over host memory (the CPU backend's
 * gradient buffer and small host arrays). */
#include <mpi.h>
#include <stdlib.h>
#include "gsvae/check.h"
#include "gsvae/cli.h"
#include "gsvae/comm.h"

bool gsvae_started_by_launcher;

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

static void mpi_allreduce_sum(gsvae_comm *comm, float *buffer, size_t count) {
  if (comm->size == 1) return;
  /* MPI counts are int: reduce in chunks so a large model cannot overflow them. */
  const size_t chunk = (size_t)1 << 30;
  for (size_t offset = 0; offset < count; offset += chunk) {
    int n = (int)(count - offset < chunk ? count - offset : chunk);
    mpiCheck(MPI_Allreduce(MPI_IN_PLACE, buffer + offset, n, MPI_FLOAT, MPI_SUM, comm->mpi));
  }
}

static void mpi_allreduce_sum_host(gsvae_comm *comm, double *values, int count) {
  if (comm->size == 1) return;
  mpiCheck(MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, comm->mpi));
}

static void mpi_destroy(gsvae_comm *comm) { free(comm); }

gsvae_comm *gsvae_mpi_comm_create(MPI_Comm mpi) {
  gsvae_comm *comm = callocCheck(1, sizeof *comm);
  comm->name = "mpi";
  comm->mpi = mpi;
  mpiCheck(MPI_Comm_rank(mpi, &comm->rank));
  mpiCheck(MPI_Comm_size(mpi, &comm->size));
  comm->allreduce_sum = mpi_allreduce_sum;
  comm->allreduce_sum_host = mpi_allreduce_sum_host;
  comm->destroy = mpi_destroy;
  return comm;
}
