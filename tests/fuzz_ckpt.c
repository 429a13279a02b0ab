/* libFuzzer target: the checkpoint loader on arbitrary in-memory HDF5 images. Before fuzzing it
 * writes a valid checkpoint of a tiny model into RUN/ckpt, the corpus directory it is given
 * (fuzz_ckpt [flags] RUN/ckpt), so mutations start from a real file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "train/checkpoint.h"
#include "core/config.h"
#include "model/layout.h"

static gsvae_config config;
static gsvae_layout layout;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  char err[GSVAE_ERR_LEN];
  gsvae_config_defaults(&config);
  if (gsvae_config_set(&config, "model.latents", "2", err) || gsvae_config_set(&config, "model.categories", "3", err) ||
      gsvae_config_set(&config, "model.hidden", "4", err))
    abort();
  gsvae_layout_build(&layout, 784, &config);
  const char *corpus = NULL;
  for (int i = 1; i < *argc; i++)
    if ((*argv)[i][0] != '-') corpus = (*argv)[i];
  size_t length = corpus ? strlen(corpus) : 0;
  if (length < 5 || strcmp(corpus + length - 5, "/ckpt") != 0) return 0;
  char run_dir[GSVAE_PATH_LEN];
  snprintf(run_dir, sizeof run_dir, "%.*s", (int)(length - 5), corpus);
  gsvae_checkpoint ckpt = {.step = 3, .epoch = 1, .tau = 0.5, .seed = config.train_seed};
  gsvae_curves_init(&ckpt.curves);
  double row[GSVAE_STEP_COLUMNS] = {3, 1, 0.5, 1, 2, 3, 4, 0};
  gsvae_curve_append(&ckpt.curves.steps, row);
  ckpt.params = calloc(layout.param_count, sizeof(float));
  ckpt.exp_avg = calloc(layout.param_count, sizeof(float));
  ckpt.exp_avg_sq = calloc(layout.param_count, sizeof(float));
  char *yaml = gsvae_config_to_yaml(&config);
  if (gsvae_ckpt_write(run_dir, &ckpt, &layout, yaml, err)) abort();
  free(yaml);
  gsvae_ckpt_free(&ckpt);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gsvae_checkpoint ckpt;
  char err[GSVAE_ERR_LEN];
  if (gsvae_ckpt_load_image(data, size, "fuzz.h5", &config, &layout, &ckpt, err) == 0) gsvae_ckpt_free(&ckpt);
  return 0;
}
