/* `gsvae train [CONFIG.yaml] [key=value ...]`: MPI up, config resolved, the loop run. */
#include <mpi.h>
#include "gsvae/check.h"
#include "gsvae/cli.h"
#include "gsvae/config.h"
#include "gsvae/train.h"

int gsvae_cmd_train(int argc, char **argv) {
  gsvae_mpi_start(&argc, &argv);
  gsvae_config config;
  char err[GSVAE_ERR_LEN];
  if (gsvae_cli_load_config(argc, argv, &config, err)) gsvae_fail(GSVAE_EXIT_USAGE, "%s", err);
  int code = gsvae_train(&config, MPI_COMM_WORLD);
  mpiCheck(MPI_Finalize());
  return code;
}
