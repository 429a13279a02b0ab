/* Reading back what training wrote, shared by every analysis command: a run directory, its
 * run.h5 or one checkpoint, opened alike (config, curves, parameters); the config as dotted
 * entries; the data a run trained on; sample grids as PNG; curves as a plot. */
#pragma once
#include <stdbool.h>
#include <yaml.h>
#include "core/config.h"
#include "train/curves.h"
#include "core/data.h"
#include "model/layout.h"

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

/* The resolved config as dotted key = value text, in gsvae_config_to_yaml's order. */
typedef struct {
  char key[64];
  char value[256];
} gsvae_config_entry;
/* Returns the count and a malloc'd array in *entries. */
int gsvae_config_entries(const gsvae_config *config, gsvae_config_entry **entries);
/* The same for a mapping of a loaded YAML document (nested mappings joined with dots); the
 * sweep file's inline base config. */
int gsvae_yaml_mapping_entries(yaml_document_t *doc, yaml_node_t *mapping, gsvae_config_entry **entries);
/* A scalar as its text, a sequence of scalars (model.hidden) as "[a, b]"; else "". */
void gsvae_yaml_render_value(yaml_document_t *doc, yaml_node_t *node, char *out, size_t size);
/* Names each run by the keys whose values differ between the runs (run.dir and run.resume
 * left out): "tau.rate=1e-4 train.estimator=st"; a lone run is named by its directory, runs
 * that differ only in where they are by their file. labels[i] holds `size` chars. */
void gsvae_run_labels(const gsvae_run *runs, int count, char **labels, size_t size);

/* The train (test = false) or test split of the run's data, binarized as training did. */
int gsvae_run_load_split(const gsvae_config *config, bool test, gsvae_dataset *dataset, char *err);

/* Writes count images (height x width floats in [0,1] each) as a rows x cols grey PNG grid
 * of (rows*height) x (cols*width) pixels; missing tiles are black. -1 with a message. */
int gsvae_png_write_grid(const char *path, const float *images, int count, int rows, int cols, int height, int width,
                         char *err);
/* "8x8" -> rows 8, cols 8; -1 with a message. */
int gsvae_parse_grid(const char *text, int *rows, int *cols, char *err);

/* One picture of the runs' curves: relaxed and unrelaxed training loss and the test loss
 * against the step, tau on a second axis; FILE.png or FILE.svg (PLplot's cairo drivers). */
int gsvae_plot_runs(const gsvae_run *runs, int count, const char *path, char *err);
