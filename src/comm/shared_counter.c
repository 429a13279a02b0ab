/* The one-sided counter (shared_counter.h): an int in a window on rank 0. */
#include "core/check.h"
#include "comm/shared_counter.h"

void gsvae_shared_counter_create(gsvae_shared_counter *counter, MPI_Comm comm) {
  int rank, *value;
  mpiCheck(MPI_Comm_rank(comm, &rank));
  mpiCheck(MPI_Win_allocate(rank == 0 ? (MPI_Aint)sizeof(int) : 0, sizeof(int), MPI_INFO_NULL, comm, &value,
                            &counter->window));
  mpiCheck(MPI_Win_set_errhandler(counter->window, MPI_ERRORS_RETURN));
  if (rank == 0) { /* a local store into the window, in an epoch of its own so no RMA sees it half done */
    mpiCheck(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, counter->window));
    *value = 0;
    mpiCheck(MPI_Win_unlock(0, counter->window));
  }
  mpiCheck(MPI_Barrier(comm)); /* nobody takes a value before it is 0 */
}

int gsvae_shared_counter_next(gsvae_shared_counter *counter) {
  const int one = 1;
  int value = 0;
  mpiCheck(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, counter->window));
  mpiCheck(MPI_Fetch_and_op(&one, &value, MPI_INT, 0, 0, MPI_SUM, counter->window));
  mpiCheck(MPI_Win_unlock(0, counter->window));
  return value;
}

void gsvae_shared_counter_free(gsvae_shared_counter *counter) { mpiCheck(MPI_Win_free(&counter->window)); }
