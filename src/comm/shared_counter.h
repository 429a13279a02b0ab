/* A counter that any rank of a communicator advances alone, without waiting for the others: the
 * next point of a sweep for whichever group frees up first. MPI one-sided: the value lives in a
 * window on rank 0 and is taken with MPI_Fetch_and_op under a passive-target lock, so rank 0 need
 * not be listening (on one node Open MPI does the atomic in shared memory; across nodes the
 * network does, or rank 0's next MPI call progresses it). */
#pragma once
#include <mpi.h>

typedef struct {
  MPI_Win window;
} gsvae_shared_counter;

/* Collective over `comm`; the counter starts at 0. */
void gsvae_shared_counter_create(gsvae_shared_counter *counter, MPI_Comm comm);
/* The counter's value, advanced by one: each value goes to exactly one caller. Any rank, alone. */
int gsvae_shared_counter_next(gsvae_shared_counter *counter);
/* Collective over the communicator it was created on. */
void gsvae_shared_counter_free(gsvae_shared_counter *counter);
