/* gsvae's entry point: dispatches the subcommands listed in the table below, and answers
 * --version, --help and COMMAND --help. */
#include <stdio.h>
#include <string.h>
#include "cpu/blas.h"
#include "core/check.h"
#include "cli/cli.h"
#include "core/version.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *usage;   /* the arguments after the command's name */
  const char *summary; /* what it does, for `gsvae COMMAND --help` */
} gsvae_command;

static const gsvae_command commands[] = {
    {"train", gsvae_cmd_train, "[CONFIG.yaml] [key=value ...]",
     "Trains a model on this process, or data-parallel under mpirun/srun, into run.dir (run.h5 and ckpt/).\n"
     "Every key, its default and range: gsvae config --help."},
    {"config", gsvae_cmd_config, "[CONFIG.yaml] [key=value ...] | --help",
     "Prints the resolved config as YAML; --help lists every key with its type, default, range and help."},
    {"inspect", gsvae_cmd_inspect, "PATH [--json]",
     "Summarizes a run dir, run.h5 or checkpoint: config, steps, tau, last and best losses, checkpoints."},
    {"export", gsvae_cmd_export, "PATH --csv FILE", "Writes the step curves as CSV, the epoch curves into FILE_epochs.csv."},
    {"sample", gsvae_cmd_sample, "CKPT -o FILE.png [--grid 8x8] [--seed S]",
     "Decodes samples of the uniform categorical prior into a PNG grid."},
    {"recon", gsvae_cmd_recon, "CKPT -o FILE.png [--grid 8x8] [data.dir=...]",
     "Test images beside their reconstructions, as a PNG grid."},
    {"eval", gsvae_cmd_eval, "CKPT [--split test|train] [--iw K] [--count N]",
     "The unrelaxed -ELBO (BCE, KL) and the importance-weighted bound on -log p(x) with K samples."},
    {"estimators", gsvae_cmd_estimators,
     "CKPT [--estimators LIST] [--tau LIST] [--samples N] [--reference auto|exact|local] [--batch N] [--json] "
     "[-o FILE.png]",
     "At a checkpoint, on one batch: each gradient estimator's relative bias, standard deviation and cosine against\n"
     "the gradient of the unrelaxed -ELBO (exact by enumerating the K^L latent configurations where --reference\n"
     "exact or auto allows, else the local-expectation estimate with its own error), and its time per step;\n"
     "a table, JSON, and a plot over tau. LIST: estimators, grmck:K and sf:S set their samples (default\n"
     "gs,st,st_softmax,gst,grmck,reinmax,sf; sf uses the leave-one-out baseline). Under mpirun the draws are\n"
     "dealt over the ranks. Defaults: --samples 200 draws, --reference-samples as --samples, --batch train.batch\n"
     "images of --split train from --start 0, --tau the checkpoint's, --seed train.seed."},
    {"plot", gsvae_cmd_plot, "PATH... -o FILE.png|FILE.svg",
     "Relaxed, unrelaxed and test loss of one or more runs in one picture, tau on a second axis."},
    {"sweep", gsvae_cmd_sweep, "SWEEP.yaml [--point I | --list] [key=value ...]",
     "Trains a grid of configs under one mpirun into run.dir/<point>/, the world split into groups that take the "
     "next point as they free up (longest first); skips points done, retries failed ones; --list shows each state."},
    {"compare", gsvae_cmd_compare, "DIR [--sort test|best|relaxed|unrelaxed] [--best N] [-o FILE.png|FILE.svg]",
     "A sweep's runs sorted by a column (final test loss by default), failed points last; the best N (5) runs' "
     "curves and each tau schedule."},
    {"info", gsvae_cmd_info, "",
     "The version, what the binary was built with (CUDA, NCCL, MPI, HDF5, BLAS) and the GPUs each rank sees."},
    {"placement", gsvae_cmd_placement, "--ranks-per-node N --gpus G [--gpu-per-rank] [--separate-models] [CONFIG.yaml] [key=value ...]",
     "The device each node-local rank of a train run would take (or why it is refused), by training's own rules,\n"
     "without MPI or a GPU; --gpu-per-rank: the launcher shows each rank its own GPU; --separate-models: each rank\n"
     "trains its own model (sweep groups of one rank), so ranks may share a GPU. The launch scripts' dry runs."},
};
static const int command_count = sizeof commands / sizeof commands[0];

static void usage(FILE *out) {
  fprintf(out, "usage: gsvae COMMAND [ARGS...] | --version | COMMAND --help\n\ncommands:\n");
  for (int i = 0; i < command_count; i++) fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].usage);
}

static int is_help(const char *arg) { return !strcmp(arg, "--help") || !strcmp(arg, "-h"); }

int main(int argc, char **argv) {
  gsvae_blas_pick_kernels(argv);
  if (argc < 2) {
    usage(stderr);
    return GSVAE_EXIT_USAGE;
  }
  if (is_help(argv[1]) || !strcmp(argv[1], "help")) {
    usage(stdout);
    return GSVAE_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("gsvae %s\n", GSVAE_VERSION);
    return GSVAE_EXIT_OK;
  }
  for (int i = 0; i < command_count; i++) {
    if (strcmp(argv[1], commands[i].name) != 0) continue;
    /* config's own --help lists the keys */
    for (int a = 2; a < argc && commands[i].run != gsvae_cmd_config; a++)
      if (is_help(argv[a])) {
        printf("usage: gsvae %s %s\n\n%s\n", commands[i].name, commands[i].usage, commands[i].summary);
        return GSVAE_EXIT_OK;
      }
    return commands[i].run(argc - 2, argv + 2);
  }
  fprintf(stderr, "gsvae: error: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return GSVAE_EXIT_USAGE;
}
