/* gsvae's entry point: dispatches the subcommands listed in the table below. */
#include <stdio.h>
#include <string.h>
#include "gsvae/check.h"
#include "gsvae/cli.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help;
} gsvae_command;

static const gsvae_command commands[] = {
    {"train", gsvae_cmd_train, "train a model: gsvae train [CONFIG.yaml] [key=value ...]"},
    {"config", gsvae_cmd_config, "print the resolved config: gsvae config [CONFIG.yaml] [key=value ...] | --help"},
    {"inspect", gsvae_cmd_inspect, "summarize a run dir, run.h5 or checkpoint: gsvae inspect PATH [--json]"},
    {"export", gsvae_cmd_export, "curves as CSV: gsvae export PATH --csv FILE (epochs in FILE_epochs.csv)"},
    {"sample", gsvae_cmd_sample, "decode prior samples: gsvae sample CKPT -o FILE.png [--grid 8x8] [--seed S]"},
    {"recon", gsvae_cmd_recon, "images beside reconstructions: gsvae recon CKPT -o FILE.png [--grid 8x8] [data.dir=...]"},
    {"eval", gsvae_cmd_eval, "-ELBO and IW bound: gsvae eval CKPT [--split test|train] [--iw K] [--count N]"},
    {"plot", gsvae_cmd_plot, "curves of runs in one picture: gsvae plot PATH... -o FILE.png|FILE.svg"},
    {"sweep", gsvae_cmd_sweep, "train a grid under one mpirun: gsvae sweep SWEEP.yaml [--point I | --list] [key=value ...]"},
    {"compare", gsvae_cmd_compare, "a sweep's runs by test loss: gsvae compare DIR [-o FILE.png]"},
    {"info", gsvae_cmd_info, "versions built with (CUDA, NCCL, MPI, HDF5, BLAS) and the GPUs each rank sees: gsvae info"},
};
static const int command_count = sizeof commands / sizeof commands[0];

static void usage(FILE *out) {
  fprintf(out, "usage: gsvae COMMAND [ARGS...]\n\ncommands:\n");
  for (int i = 0; i < command_count; i++) fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
  gsvae_blas_pick_kernels(argv);
  if (argc < 2) {
    usage(stderr);
    return GSVAE_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return GSVAE_EXIT_OK;
  }
  for (int i = 0; i < command_count; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 2, argv + 2);
  fprintf(stderr, "gsvae: error: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return GSVAE_EXIT_USAGE;
}
