/* `gsvae train [CONFIG.yaml] [key=value ...]`: MPI up, config resolved, the loop run. */
#include <mpi.h>
#include "core/check.h"
#include "comm/comm.h"
#include "cli/cli.h"
#include "core/config.h"
#include "train/train.h"

int gsvae_cmd_train(int argc, char **argv) {
  gsvae_mpi_start(&argc, &argv);
  gsvae_config config;
  char err[GSVAE_ERR_LEN];
  if (gsvae_cli_load_config(argc, argv, &config, err)) gsvae_fail(GSVAE_EXIT_USAGE, "%s", err);
  gsvae_train_options options = {MPI_COMM_WORLD, gsvae_node_placement_find(MPI_COMM_WORLD)};
  int code = gsvae_train(&config, &options, err);
  if (err[0]) gsvae_fail(code, "%s", err);
  mpiCheck(MPI_Finalize());
  return code;
}
