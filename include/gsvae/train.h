/* The training loop, written once over any backend and communicator: data order, tau,
 * logging, evaluation, curves and the final parameters. */
#pragma once
#include <mpi.h>
#include "gsvae/config.h"

/* Trains `config` on the ranks of `mpi`; returns an exit code (GSVAE_EXIT_*). */
int gsvae_train(const gsvae_config *config, MPI_Comm mpi);

/* BLAS threads for a rank (unless OPENBLAS_NUM_THREADS or OMP_NUM_THREADS says): one per core of
 * its binding, or its share of the node's cores when unbound; for commands that compute under
 * mpirun beside train. */
void gsvae_share_cores_among_local_ranks(void);
