/* `gsvae placement --ranks-per-node N --gpus G [--gpu-per-rank] [CONFIG.yaml] [key=value ...]`:
 * the device each node-local rank of a `gsvae train` would take, or the refusal, by the same rules
 * training applies (core/device_choice.h), without MPI or a GPU: the launch scripts' dry runs
 * print it before a job is submitted. --gpu-per-rank: the launcher shows each rank its own GPU
 * (Slurm's --gpus-per-task=1 with GPU binding), instead of every rank all G. --separate-models:
 * each rank trains a model of its own (sweep groups of one rank), so ranks may share a GPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/check.h"
#include "core/device_choice.h"

static int positive(const char *flag, const char *text) {
  char *end;
  long value = strtol(text, &end, 10);
  if (*end || !*text || value < 0 || value > 4096)
    gsvae_fail(GSVAE_EXIT_USAGE, "placement: %s '%s': expected a count from 0 to 4096", flag, text);
  return (int)value;
}

int gsvae_cmd_placement(int argc, char **argv) {
  int ranks = -1, gpus = -1, gpu_per_rank = 0, separate_models = 0, kept = 0;
  char **config_args = callocCheck((size_t)argc + 1, sizeof *config_args);
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--ranks-per-node") && i + 1 < argc) ranks = positive("--ranks-per-node", argv[++i]);
    else if (!strcmp(argv[i], "--gpus") && i + 1 < argc) gpus = positive("--gpus", argv[++i]);
    else if (!strcmp(argv[i], "--gpu-per-rank")) gpu_per_rank = 1;
    else if (!strcmp(argv[i], "--separate-models")) separate_models = 1;
    else if (argv[i][0] == '-') gsvae_fail(GSVAE_EXIT_USAGE, "placement: unexpected argument '%s'", argv[i]);
    else config_args[kept++] = argv[i];
  }
  if (ranks < 1 || gpus < 0)
    gsvae_fail(GSVAE_EXIT_USAGE, "placement: usage: gsvae placement --ranks-per-node N --gpus G [--gpu-per-rank] "
               "[--separate-models] [CONFIG.yaml] [key=value ...]");
  if (gpu_per_rank && gpus < ranks)
    gsvae_fail(GSVAE_EXIT_USAGE, "placement: --gpu-per-rank with %d ranks per node needs --gpus %d or more, not %d",
               ranks, ranks, gpus);
  gsvae_config config;
  char err[GSVAE_ERR_LEN];
  if (gsvae_cli_load_config(kept, config_args, &config, err)) gsvae_fail(GSVAE_EXIT_USAGE, "%s", err);
  free(config_args);
#ifdef GSVAE_HAVE_CUDA
  bool cuda_built = true;
#else
  bool cuda_built = false;
#endif
  int visible = gpu_per_rank ? 1 : gpus;
  char why[GSVAE_ERR_LEN];
  int use_gpu = gsvae_device_use_gpu(config.device_backend, cuda_built, visible, why);
  if (use_gpu < 0) gsvae_fail(GSVAE_EXIT_USAGE, "%s", why);
  printf("%d rank(s) per node, %d GPU(s) per node%s, device.comm=%s%s\n", ranks, gpus,
         gpu_per_rank ? " (one shown to each rank)" : "", config.device_comm == GSVAE_COMM_MPI ? "mpi" : "nccl",
         cuda_built ? "" : " (this build has no CUDA)");
  char (*ids)[GSVAE_GPU_ID_LEN] = callocCheck((size_t)ranks, GSVAE_GPU_ID_LEN);
  int *models = callocCheck((size_t)ranks, sizeof(int)); /* one model: a train run's ranks share one communicator */
  for (int r = 0; separate_models && r < ranks; r++) models[r] = r;
  for (int r = 0; r < ranks; r++) {
    if (!use_gpu) {
      printf("  local rank %d: CPU%s%s%s\n", r, why[0] ? " (" : "", why, why[0] ? ")" : "");
      continue;
    }
    int gpu = gpu_per_rank ? r : gsvae_device_gpu_index(r, ranks, visible);
    snprintf(ids[r], GSVAE_GPU_ID_LEN, "%d", gpu);
    printf("  local rank %d: GPU %d\n", r, gpu);
  }
  int refused = gsvae_device_check_sharing(ranks, (const char (*)[GSVAE_GPU_ID_LEN])ids, models, config.device_comm,
                                           err);
  free(ids);
  free(models);
  if (refused) gsvae_fail(GSVAE_EXIT_USAGE, "%s", err);
  return GSVAE_EXIT_OK;
}
