/* The training loop, written once over any backend and communicator: data order, tau,
 * logging, evaluation, curves and the final parameters. */
#pragma once
#include <mpi.h>
#include "core/config.h"

/* Trains `config` on the ranks of `mpi`; returns an exit code (GSVAE_EXIT_*). */
int gsvae_train(const gsvae_config *config, MPI_Comm mpi);
