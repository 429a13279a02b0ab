/* The training loop, written once over any backend and communicator: data order, tau,
 * logging, evaluation, curves and the final parameters. */
#pragma once
#include <mpi.h>
#include "comm/node_placement.h"
#include "core/config.h"

typedef struct {
  MPI_Comm mpi;                   /* the ranks training this run: the world, or a sweep group */
  gsvae_node_placement placement; /* this rank's place on its node, found over the world before any split */
} gsvae_train_options;

/* Trains `config` on the ranks of options->mpi and calls no collective on any other
 * communicator; returns an exit code (GSVAE_EXIT_*). A failure every rank of the run meets (data
 * 3, config against the rank count or the device 2, no checkpoint to resume from 4) or divergence
 * (5) returns its code with the reason in err[GSVAE_ERR_LEN] on the run's rank 0, printed by no
 * one, so a sweep can record it and go on; a failed call (I/O, MPI, device) still ends the job. */
int gsvae_train(const gsvae_config *config, const gsvae_train_options *options, char *err);

/* The steps a run of `config` takes on `train_count` training images: train.epochs whole epochs,
 * or train.max_steps when fewer. */
long gsvae_train_total_steps(const gsvae_config *config, long train_count);
