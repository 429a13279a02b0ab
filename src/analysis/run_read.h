/* Reading back what training wrote (run_read.c), shared by every analysis command: a run
 * directory, its run.h5 or one checkpoint, opened alike (config, curves, parameters), and the data
 * a run trained on. */
#pragma once
#include <stdbool.h>
#include "core/config.h"
#include "core/data.h"
#include "model/layout.h"
#include "train/curves.h"

typedef struct {
  char file[GSVAE_PATH_LEN];     /* the HDF5 file read: run.h5 or a checkpoint */
  char dir[GSVAE_PATH_LEN];      /* the run directory it belongs to */
  bool is_checkpoint;
  char *config_yaml;             /* the stored resolved config */
  gsvae_config config;           /* parsed back (then any command-line overrides) */
  gsvae_curves curves;           /* columns cut to the shortest, in case training is appending */
  long step;                     /* checkpoint attribute, else the last logged step (0: none) */
  double tau;                    /* checkpoint attribute, else the last logged tau (NaN: none) */
  int checkpoint_count;          /* dir/ckpt/step_*.h5, oldest first */
  char (*checkpoints)[GSVAE_PATH_LEN];
  gsvae_layout layout;           /* valid when params != NULL */
  float *params;                 /* the flat buffer from /params, NULL when the file has none */
} gsvae_run;

/* PATH is a run directory (its run.h5; when that has no /params yet and need_params is set,
 * its newest checkpoint), a run.h5, or a checkpoint file. need_params: fail when the file
 * has no /params. Returns 0, or -1 with a message naming the path and what is missing. */
int gsvae_run_open(gsvae_run *run, const char *path, bool need_params, char *err);
/* Applies key=value overrides to run->config (e.g. data.dir=...); -1 with a message. */
int gsvae_run_override(gsvae_run *run, int count, char *const *overrides, char *err);
void gsvae_run_free(gsvae_run *run);

/* Column `name` of a curve table (NULL when absent). */
const double *gsvae_curve_column(const gsvae_curve_table *table, const char *name);

/* The train (test = false) or test split of the run's data, binarized as training did. */
int gsvae_run_load_split(const gsvae_config *config, bool test, gsvae_dataset *dataset, char *err);
