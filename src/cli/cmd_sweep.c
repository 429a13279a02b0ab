/* `gsvae sweep SWEEP.yaml [--point I | --list] [key=value ...]`: a grid of configs trained
 * under one mpirun. The world is split into groups; group g trains points g, g+groups, ...
 * data-parallel on its ranks into <run.dir>/<point-name>/. SWEEP.yaml:
 *   base: jang_anneal.yaml        # a config file (relative to SWEEP.yaml) or an inline mapping
 *   grid: {tau.rate: [1e-5, 1e-4], train.estimator: [gs, st]}   # the last key varies fastest
 *   set: {run.dir: results/sweep} # optional keys applied after the base (dotted or nested)
 *   groups: 2                     # optional; default min(points, ranks)
 * --point I trains point I alone on all ranks (one Slurm array task per point); --list prints
 * each point's index, name and overrides. */
#include <libgen.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "analysis/config_entries.h"
#include "analysis/run_read.h"
#include "core/check.h"
#include "comm/comm.h"
#include "cli/cli.h"
#include "train/train.h"

enum { MAX_SWEPT_KEYS = 16, MAX_VALUES = 64, VALUE_LEN = 256 };

typedef struct {
  char base_path[GSVAE_PATH_LEN]; /* empty: an inline base (or none) */
  int base_count;                 /* inline base, then `set:`, as key=value overrides */
  char **base_overrides;
  int key_count;
  char keys[MAX_SWEPT_KEYS][64];
  int value_count[MAX_SWEPT_KEYS];
  char values[MAX_SWEPT_KEYS][MAX_VALUES][VALUE_LEN];
  int groups;                     /* 0: min(points, ranks) */
  int point_count;
} sweep_spec;

static yaml_node_t *mapping_value(yaml_document_t *doc, yaml_node_t *mapping, const char *name) {
  for (yaml_node_pair_t *pair = mapping->data.mapping.pairs.start; pair < mapping->data.mapping.pairs.top; pair++) {
    yaml_node_t *key = yaml_document_get_node(doc, pair->key);
    if (key && key->type == YAML_SCALAR_NODE && !strcmp((const char *)key->data.scalar.value, name))
      return yaml_document_get_node(doc, pair->value);
  }
  return NULL;
}

static char *join_override(const char *key, const char *value) {
  size_t size = strlen(key) + strlen(value) + 2;
  char *text = mallocCheck(size);
  snprintf(text, size, "%s=%s", key, value);
  return text;
}

static int read_grid(const char *path, yaml_document_t *doc, yaml_node_t *grid, sweep_spec *spec, char *err) {
  if (!grid || grid->type != YAML_MAPPING_NODE)
    return gsvae_errorf(err, "%s: 'grid' must be a mapping of config keys to lists of values", path);
  spec->point_count = 1;
  for (yaml_node_pair_t *pair = grid->data.mapping.pairs.start; pair < grid->data.mapping.pairs.top; pair++) {
    yaml_node_t *key = yaml_document_get_node(doc, pair->key), *list = yaml_document_get_node(doc, pair->value);
    if (spec->key_count == MAX_SWEPT_KEYS) return gsvae_errorf(err, "%s: more than %d grid keys", path, MAX_SWEPT_KEYS);
    if (!key || key->type != YAML_SCALAR_NODE || key->data.scalar.length >= sizeof spec->keys[0])
      return gsvae_errorf(err, "%s: a grid key must be a dotted config key such as tau.rate", path);
    int k = spec->key_count++;
    snprintf(spec->keys[k], sizeof spec->keys[k], "%s", (const char *)key->data.scalar.value);
    if (!list || list->type != YAML_SEQUENCE_NODE || list->data.sequence.items.top == list->data.sequence.items.start)
      return gsvae_errorf(err, "%s: grid.%s must be a non-empty list of values, e.g. [1e-5, 1e-4]", path, spec->keys[k]);
    for (yaml_node_item_t *item = list->data.sequence.items.start; item < list->data.sequence.items.top; item++) {
      if (spec->value_count[k] == MAX_VALUES)
        return gsvae_errorf(err, "%s: grid.%s has more than %d values", path, spec->keys[k], MAX_VALUES);
      yaml_node_t *value = yaml_document_get_node(doc, *item);
      char *text = spec->values[k][spec->value_count[k]++];
      gsvae_yaml_render_value(doc, value, text, VALUE_LEN);
      if (!value || value->type == YAML_MAPPING_NODE || !text[0])
        return gsvae_errorf(err, "%s: grid.%s: each value must be a scalar (or a list for model.hidden)", path,
                            spec->keys[k]);
    }
    spec->point_count *= spec->value_count[k];
  }
  if (!spec->key_count) return gsvae_errorf(err, "%s: 'grid' has no keys", path);
  return 0;
}

static void append_overrides(yaml_document_t *doc, yaml_node_t *mapping, sweep_spec *spec) {
  gsvae_config_entry *entries;
  int count = gsvae_yaml_mapping_entries(doc, mapping, &entries);
  spec->base_overrides = realloc(spec->base_overrides, (size_t)(spec->base_count + count + 1) * sizeof(char *));
  if (!spec->base_overrides) gsvae_abort(GSVAE_EXIT_RUNTIME, "out of memory reading the sweep file");
  for (int i = 0; i < count; i++) spec->base_overrides[spec->base_count++] = join_override(entries[i].key, entries[i].value);
  free(entries);
}

static int read_base(const char *path, yaml_document_t *doc, yaml_node_t *base, sweep_spec *spec, char *err) {
  if (!base) return 0;
  if (base->type == YAML_SCALAR_NODE) {
    const char *file = (const char *)base->data.scalar.value;
    char copy[GSVAE_PATH_LEN];
    snprintf(copy, sizeof copy, "%s", path);
    if (file[0] == '/') snprintf(spec->base_path, sizeof spec->base_path, "%s", file);
    else snprintf(spec->base_path, sizeof spec->base_path, "%.2000s/%.2000s", dirname(copy), file);
    return 0;
  }
  if (base->type != YAML_MAPPING_NODE)
    return gsvae_errorf(err, "%s: 'base' must be a config file name or a mapping of config keys", path);
  append_overrides(doc, base, spec);
  return 0;
}

static int load_spec(const char *path, sweep_spec *spec, char *err) {
  memset(spec, 0, sizeof *spec);
  FILE *file = fopen(path, "rb");
  if (!file) return gsvae_errorf(err, "cannot read sweep file '%s'", path);
  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser)) gsvae_abort(GSVAE_EXIT_RUNTIME, "libyaml: cannot initialize a parser");
  yaml_parser_set_input_file(&parser, file);
  int status = 0;
  if (!yaml_parser_load(&parser, &doc)) {
    status = gsvae_errorf(err, "%s:%zu:%zu: %s", path, parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                          parser.problem ? parser.problem : "invalid YAML");
    yaml_parser_delete(&parser);
    fclose(file);
    return status;
  }
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (!root || root->type != YAML_MAPPING_NODE) {
    status = gsvae_errorf(err, "%s: expected a mapping with 'base', 'grid' and optionally 'groups'", path);
  } else {
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start; !status && pair < root->data.mapping.pairs.top; pair++) {
      yaml_node_t *key = yaml_document_get_node(&doc, pair->key);
      const char *name = key && key->type == YAML_SCALAR_NODE ? (const char *)key->data.scalar.value : "?";
      if (strcmp(name, "base") && strcmp(name, "set") && strcmp(name, "grid") && strcmp(name, "groups"))
        status = gsvae_errorf(err, "%s: unknown key '%s' (expected base, set, grid, groups)", path, name);
    }
    if (!status) status = read_base(path, &doc, mapping_value(&doc, root, "base"), spec, err);
    yaml_node_t *set = mapping_value(&doc, root, "set");
    if (!status && set && set->type != YAML_MAPPING_NODE)
      status = gsvae_errorf(err, "%s: 'set' must be a mapping of config keys to values", path);
    else if (!status && set) append_overrides(&doc, set, spec);
    if (!status) status = read_grid(path, &doc, mapping_value(&doc, root, "grid"), spec, err);
    yaml_node_t *groups = mapping_value(&doc, root, "groups");
    if (!status && groups) {
      char *end = "";
      if (groups->type == YAML_SCALAR_NODE) spec->groups = (int)strtol((const char *)groups->data.scalar.value, &end, 10);
      if (*end || spec->groups < 1) status = gsvae_errorf(err, "%s: 'groups' must be a positive integer", path);
    }
  }
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  fclose(file);
  return status;
}

/* Point p's value index for key k: the last key varies fastest. */
static int value_index(const sweep_spec *spec, int point, int key) {
  for (int k = spec->key_count - 1; k > key; k--) point /= spec->value_count[k];
  return point % spec->value_count[key];
}

/* "tau.rate-1e-4_train.estimator-st": the swept keys and values, path-safe. */
static void point_name(const sweep_spec *spec, int point, char *out, size_t size) {
  out[0] = '\0';
  for (int k = 0; k < spec->key_count; k++) {
    size_t used = strlen(out);
    snprintf(out + used, size - used, "%s%s-%s", k ? "_" : "", spec->keys[k], spec->values[k][value_index(spec, point, k)]);
  }
  for (char *c = out; *c; c++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-_", *c)) *c = '_';
}

/* The base, then the command line, then the point's values, then its run.dir. */
static int point_config(const sweep_spec *spec, int point, int cli_count, char **cli, const char *sweep_dir,
                        gsvae_config *config, char *err) {
  int count = 0;
  char **overrides = mallocCheck((size_t)(spec->base_count + cli_count + spec->key_count + 1) * sizeof(char *));
  for (int i = 0; i < spec->base_count; i++) overrides[count++] = spec->base_overrides[i];
  for (int i = 0; i < cli_count; i++) overrides[count++] = cli[i];
  int first_owned = count;
  for (int k = 0; k < spec->key_count; k++)
    overrides[count++] = join_override(spec->keys[k], spec->values[k][value_index(spec, point, k)]);
  char name[1024], dir[GSVAE_PATH_LEN];
  point_name(spec, point, name, sizeof name);
  snprintf(dir, sizeof dir, "%.3000s/%.1000s", sweep_dir, name);
  overrides[count++] = join_override("run.dir", dir);
  int status = gsvae_config_load(config, spec->base_path[0] ? spec->base_path : NULL, count, overrides, err);
  for (int i = first_owned; i < count; i++) free(overrides[i]);
  free(overrides);
  return status;
}

/* Errors inside gsvae_train print on world rank 0 only; a group without it would fail
 * silently, so everything a point can get wrong alike is checked here first. */
static void preflight(gsvae_config *configs, int count, int max_group_size) {
  char err[GSVAE_ERR_LEN] = "";
  int status = 0;
  for (int p = 0; p < count && !status; p++) {
    if (configs[p].train_batch < max_group_size)
      status = gsvae_errorf(err, "point %s: train.batch=%d is smaller than a group's %d ranks", configs[p].run_dir,
                            configs[p].train_batch, max_group_size);
    bool seen = false;
    for (int q = 0; q < p; q++) seen |= !strcmp(configs[q].data_dir, configs[p].data_dir);
    if (!seen && gsvae_world_rank == 0 && !status) {
      gsvae_dataset train, test;
      status = gsvae_run_load_split(&configs[p], true, &test, err);
      if (!status) {
        gsvae_dataset_free(&test);
        status = gsvae_run_load_split(&configs[p], false, &train, err);
        if (!status) gsvae_dataset_free(&train);
      }
    }
  }
  mpiCheck(MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD));
  if (status) gsvae_fail(GSVAE_EXIT_USAGE, "sweep: %s", err);
}

int gsvae_cmd_sweep(int argc, char **argv) {
  const char *path = NULL;
  int only_point = -1, cli_count = 0;
  bool list = false;
  char err[GSVAE_ERR_LEN];
  for (int i = 0; i < argc; i++) list |= !strcmp(argv[i], "--list");
  if (!list) gsvae_mpi_start(&argc, &argv);
  char **cli = argv;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--list")) continue;
    else if (!strcmp(argv[i], "--point") && i + 1 < argc) {
      char *end;
      only_point = (int)strtol(argv[++i], &end, 10);
      if (*end || !argv[i][0] || only_point < 0)
        gsvae_fail(GSVAE_EXIT_USAGE, "sweep: --point '%s': expected a point index from --list", argv[i]);
    } else if (strchr(argv[i], '=') && argv[i][0] != '-') cli[cli_count++] = argv[i];
    else if (!path && argv[i][0] != '-') path = argv[i];
    else gsvae_fail(GSVAE_EXIT_USAGE, "sweep: unexpected argument '%s'", argv[i]);
  }
  if (!path) gsvae_fail(GSVAE_EXIT_USAGE, "sweep: usage: gsvae sweep SWEEP.yaml [--point I | --list] [key=value ...]");

  static sweep_spec spec;
  if (load_spec(path, &spec, err)) gsvae_fail(GSVAE_EXIT_USAGE, "%s", err);
  for (int i = 0; i < cli_count; i++)
    for (int k = 0; k < spec.key_count; k++)
      if (!strncmp(cli[i], spec.keys[k], strlen(spec.keys[k])) && cli[i][strlen(spec.keys[k])] == '=')
        gsvae_fail(GSVAE_EXIT_USAGE, "sweep: %s is swept by %s's grid; change the grid instead of overriding it",
                   spec.keys[k], path);
  gsvae_config sweep_config; /* where the sweep goes: the base and the command line */
  {
    char **overrides = mallocCheck((size_t)(spec.base_count + cli_count + 1) * sizeof(char *));
    for (int i = 0; i < spec.base_count; i++) overrides[i] = spec.base_overrides[i];
    for (int i = 0; i < cli_count; i++) overrides[spec.base_count + i] = cli[i];
    if (gsvae_config_load(&sweep_config, spec.base_path[0] ? spec.base_path : NULL, spec.base_count + cli_count,
                          overrides, err))
      gsvae_fail(GSVAE_EXIT_USAGE, "%s: base config: %s", path, err);
    free(overrides);
  }
  gsvae_config *configs = mallocCheck((size_t)spec.point_count * sizeof *configs);
  for (int p = 0; p < spec.point_count; p++)
    if (point_config(&spec, p, cli_count, cli, sweep_config.run_dir, &configs[p], err))
      gsvae_fail(GSVAE_EXIT_USAGE, "%s: point %d: %s", path, p, err);

  if (list) {
    for (int p = 0; p < spec.point_count; p++) {
      char name[1024];
      point_name(&spec, p, name, sizeof name);
      printf("%d %s", p, name);
      for (int k = 0; k < spec.key_count; k++) printf(" %s=%s", spec.keys[k], spec.values[k][value_index(&spec, p, k)]);
      printf(" run.dir=%s\n", configs[p].run_dir);
    }
    free(configs);
    return GSVAE_EXIT_OK;
  }
  if (only_point >= spec.point_count)
    gsvae_fail(GSVAE_EXIT_USAGE, "sweep: --point %d: %s has points 0..%d", only_point, path, spec.point_count - 1);
  int first = only_point >= 0 ? only_point : 0, end = only_point >= 0 ? only_point + 1 : spec.point_count;
  int points = end - first, world = gsvae_world_size;
  int groups = only_point >= 0 ? 1 : spec.groups ? spec.groups : (points < world ? points : world);
  if (groups > world)
    gsvae_fail(GSVAE_EXIT_USAGE, "sweep: %s asks for %d groups but there are %d ranks (mpirun -np N, N >= groups)", path,
               groups, world);
  int group_index = (int)((long)gsvae_world_rank * groups / world);
  MPI_Comm group;
  mpiCheck(MPI_Comm_split(MPI_COMM_WORLD, group_index, gsvae_world_rank, &group));
  int group_rank, group_size;
  mpiCheck(MPI_Comm_rank(group, &group_rank));
  mpiCheck(MPI_Comm_size(group, &group_size));
  gsvae_group_rank = group_rank;
  preflight(configs + first, points, (world + groups - 1) / groups);
  if (gsvae_world_rank == 0)
    printf("sweep %s: %d point(s) in %d group(s) over %d rank(s) -> %s\n", path, points, groups, world,
           sweep_config.run_dir);

  int *codes = callocCheck((size_t)points, sizeof(int));
  for (int p = group_index; p < points; p += groups) {
    char name[1024];
    point_name(&spec, first + p, name, sizeof name);
    if (group_rank == 0) {
      printf("sweep: group %d (%d ranks) trains point %d: %s\n", group_index, group_size, first + p, name);
      fflush(stdout);
    }
    int code = gsvae_train(&configs[first + p], group);
    if (group_rank == 0) codes[p] = code;
  }
  mpiCheck(MPI_Allreduce(MPI_IN_PLACE, codes, points, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
  int exit_code = GSVAE_EXIT_OK;
  for (int p = 0; p < points; p++) {
    if (codes[p] && gsvae_world_rank == 0) fprintf(stderr, "sweep: point %d (%s) exited %d\n", first + p, configs[first + p].run_dir, codes[p]);
    if (codes[p] && !exit_code) exit_code = codes[p];
  }
  if (gsvae_world_rank == 0) printf("sweep: done; compare with: gsvae compare %s\n", sweep_config.run_dir);
  free(codes);
  free(configs);
  for (int i = 0; i < spec.base_count; i++) free(spec.base_overrides[i]);
  free(spec.base_overrides);
  mpiCheck(MPI_Comm_free(&group));
  mpiCheck(MPI_Finalize());
  return exit_code;
}
