/* A sweep file: a base config, keys set after it and a grid of values, read into the points it
 * names. SWEEP.yaml:
 *   base: jang_anneal.yaml        # a config file (relative to SWEEP.yaml) or an inline mapping
 *   grid: {tau.rate: [1e-5, 1e-4], train.estimator: [gs, st]}   # the last key varies fastest
 *   set: {run.dir: results/sweep} # optional keys applied after the base (dotted or nested)
 *   groups: 2                     # optional; default min(points, ranks)
 *   handout: dynamic              # optional: dynamic (the default: a group that frees up takes the
 *                                 # next point, longest expected first) or static (group g trains
 *                                 # points g, g + groups, ... in grid order) */
#pragma once
#include <stddef.h>
#include "core/config.h"

enum { GSVAE_SWEEP_MAX_KEYS = 16, GSVAE_SWEEP_MAX_VALUES = 64, GSVAE_SWEEP_VALUE_LEN = 256 };

typedef enum { GSVAE_HANDOUT_DYNAMIC, GSVAE_HANDOUT_STATIC } gsvae_handout;

typedef struct {
  char base_path[GSVAE_PATH_LEN]; /* empty: an inline base (or none) */
  int base_count;                 /* inline base, then `set:`, as key=value overrides */
  char **base_overrides;
  int key_count;
  char keys[GSVAE_SWEEP_MAX_KEYS][64];
  int value_count[GSVAE_SWEEP_MAX_KEYS];
  char values[GSVAE_SWEEP_MAX_KEYS][GSVAE_SWEEP_MAX_VALUES][GSVAE_SWEEP_VALUE_LEN];
  int groups;                     /* 0: min(points, ranks) */
  gsvae_handout handout;
  int point_count;
} gsvae_sweep_spec;

/* Returns 0, or -1 with a message naming the file and the key. */
int gsvae_sweep_spec_load(const char *path, gsvae_sweep_spec *spec, char *err);
void gsvae_sweep_spec_free(gsvae_sweep_spec *spec);
/* Point p's value index for key k: the last key varies fastest. */
int gsvae_sweep_value_index(const gsvae_sweep_spec *spec, int point, int key);
/* "tau.rate-1e-4_train.estimator-st": the swept keys and values, path-safe. */
void gsvae_sweep_point_name(const gsvae_sweep_spec *spec, int point, char *out, size_t size);
/* The base, then the command line, then the point's values, then run.dir=<sweep_dir>/<name>. */
int gsvae_sweep_point_config(const gsvae_sweep_spec *spec, int point, int cli_count, char **cli, const char *sweep_dir,
                             gsvae_config *config, char *err);
