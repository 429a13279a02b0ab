/* Writes a run.h5 the way training does (seed layout, curve syncs that append, parameters written
 * twice) for runfile_check.py to read back with h5py. The values
 * are formulas of the row and element index that the script recomputes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "train/runfile.h"

static const char *config_yaml = "data:\n  dir: /tmp/data\nmodel:\n  latents: 30\n  categories: 10\n# τ schedule: exp\n";

static void append_step(gsvae_curves *curves, int i) {
  double row[GSVAE_STEP_COLUMNS];
  row[GSVAE_STEP_STEP] = 10.0 * (i + 1);
  row[GSVAE_STEP_EPOCH] = 1 + i / 4;
  row[GSVAE_STEP_TAU] = 1.0 / (i + 1);
  row[GSVAE_STEP_RELAXED] = 500.0 - i;
  row[GSVAE_STEP_UNRELAXED] = 510.0 - i;
  row[GSVAE_STEP_BCE] = 400.0 - 0.5 * i;
  row[GSVAE_STEP_KL] = i == 2 ? NAN : 0.25 * i;
  row[GSVAE_STEP_SKIPPED] = i % 3;
  gsvae_curve_append(&curves->steps, row);
}

static void append_epoch(gsvae_curves *curves, int e) {
  double row[GSVAE_EPOCH_COLUMNS] = {e + 1, 300.0 - e, 310.0 - e, 305.5 - e};
  gsvae_curve_append(&curves->epochs, row);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s RUN.h5\n", argv[0]);
    return 2;
  }
  gsvae_config config;
  gsvae_config_defaults(&config); /* the seed's layout, 784-512-256-300 */
  gsvae_layout layout;
  gsvae_layout_build(&layout, 784, &config);

  gsvae_runfile *run = gsvae_runfile_create(argv[1], config_yaml, 4, "cpu");
  gsvae_curves curves;
  gsvae_curves_init(&curves);
  gsvae_runfile_sync_curves(run, &curves); /* nothing yet: stays empty */
  for (int i = 0; i < 5; i++) append_step(&curves, i);
  append_epoch(&curves, 0);
  gsvae_runfile_sync_curves(run, &curves);
  gsvae_runfile_sync_curves(run, &curves); /* nothing new: unchanged */
  for (int i = 5; i < 8; i++) append_step(&curves, i);
  append_epoch(&curves, 1);
  gsvae_runfile_sync_curves(run, &curves);

  float *params = malloc(layout.param_count * sizeof(float));
  for (size_t i = 0; i < layout.param_count; i++) params[i] = (float)((double)(i % 1000) * 0.001 - 0.5);
  gsvae_runfile_write_params(run, &layout, params);
  for (size_t i = 0; i < layout.param_count; i++) params[i] = (float)((double)(i % 977) / 977.0 - 0.25);
  gsvae_runfile_write_params(run, &layout, params); /* overwrites */
  free(params);
  gsvae_curves_free(&curves);
  gsvae_runfile_close(run);
  return 0;
}
