/* The subcommands of the gsvae binary; each takes the arguments after its name and returns
 * an exit code (GSVAE_EXIT_*). main.c holds the table. */
#pragma once
#include <stdbool.h>
#include "core/config.h"


/* Splits argv into [CONFIG.yaml] and key=value overrides and loads them (cmd_config.c);
 * returns 0, or -1 with a message in err. */
int gsvae_cli_load_config(int argc, char **argv, gsvae_config *config, char *err);

int gsvae_cmd_train(int argc, char **argv);
int gsvae_cmd_config(int argc, char **argv);
/* Analysis of run dirs, run.h5 files and checkpoints (cmd_inspect.c ... cmd_compare.c). */
int gsvae_cmd_inspect(int argc, char **argv);
int gsvae_cmd_export(int argc, char **argv);
int gsvae_cmd_sample(int argc, char **argv);
int gsvae_cmd_recon(int argc, char **argv);
int gsvae_cmd_eval(int argc, char **argv);
int gsvae_cmd_plot(int argc, char **argv);
int gsvae_cmd_compare(int argc, char **argv);
/* Gradient estimators against the unrelaxed objective's gradient at a checkpoint (cmd_estimators.c). */
int gsvae_cmd_estimators(int argc, char **argv);
/* A grid of configs trained under one mpirun, the world split into groups (cmd_sweep.c). */
int gsvae_cmd_sweep(int argc, char **argv);
/* Versions the binary was built with and the GPUs each rank sees (cmd_info.c). */
int gsvae_cmd_info(int argc, char **argv);
/* The device each node-local rank would take, by training's rules, without MPI or a GPU (cmd_placement.c). */
int gsvae_cmd_placement(int argc, char **argv);
