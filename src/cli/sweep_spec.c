/* A sweep file (sweep_spec.h): the base, the keys set after it, the grid, the groups and the
 * hand-out; each point's name and resolved config. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "analysis/config_entries.h"
#include "core/check.h"
#include "cli/sweep_spec.h"

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

static int read_grid(const char *path, yaml_document_t *doc, yaml_node_t *grid, gsvae_sweep_spec *spec, char *err) {
  if (!grid || grid->type != YAML_MAPPING_NODE)
    return gsvae_errorf(err, "%s: 'grid' must be a mapping of config keys to lists of values", path);
  spec->point_count = 1;
  for (yaml_node_pair_t *pair = grid->data.mapping.pairs.start; pair < grid->data.mapping.pairs.top; pair++) {
    yaml_node_t *key = yaml_document_get_node(doc, pair->key), *list = yaml_document_get_node(doc, pair->value);
    if (spec->key_count == GSVAE_SWEEP_MAX_KEYS) return gsvae_errorf(err, "%s: more than %d grid keys", path, GSVAE_SWEEP_MAX_KEYS);
    if (!key || key->type != YAML_SCALAR_NODE || key->data.scalar.length >= sizeof spec->keys[0])
      return gsvae_errorf(err, "%s: a grid key must be a dotted config key such as tau.rate", path);
    int k = spec->key_count++;
    snprintf(spec->keys[k], sizeof spec->keys[k], "%s", (const char *)key->data.scalar.value);
    if (!list || list->type != YAML_SEQUENCE_NODE || list->data.sequence.items.top == list->data.sequence.items.start)
      return gsvae_errorf(err, "%s: grid.%s must be a non-empty list of values, e.g. [1e-5, 1e-4]", path, spec->keys[k]);
    for (yaml_node_item_t *item = list->data.sequence.items.start; item < list->data.sequence.items.top; item++) {
      if (spec->value_count[k] == GSVAE_SWEEP_MAX_VALUES)
        return gsvae_errorf(err, "%s: grid.%s has more than %d values", path, spec->keys[k], GSVAE_SWEEP_MAX_VALUES);
      yaml_node_t *value = yaml_document_get_node(doc, *item);
      char *text = spec->values[k][spec->value_count[k]++];
      gsvae_yaml_render_value(doc, value, text, GSVAE_SWEEP_VALUE_LEN);
      if (!value || value->type == YAML_MAPPING_NODE || !text[0])
        return gsvae_errorf(err, "%s: grid.%s: each value must be a scalar (or a list for model.hidden)", path,
                            spec->keys[k]);
    }
    spec->point_count *= spec->value_count[k];
  }
  if (!spec->key_count) return gsvae_errorf(err, "%s: 'grid' has no keys", path);
  return 0;
}

static void append_overrides(yaml_document_t *doc, yaml_node_t *mapping, gsvae_sweep_spec *spec) {
  gsvae_config_entry *entries;
  int count = gsvae_yaml_mapping_entries(doc, mapping, &entries);
  spec->base_overrides = realloc(spec->base_overrides, (size_t)(spec->base_count + count + 1) * sizeof(char *));
  if (!spec->base_overrides) gsvae_abort(GSVAE_EXIT_RUNTIME, "out of memory reading the sweep file");
  for (int i = 0; i < count; i++) spec->base_overrides[spec->base_count++] = join_override(entries[i].key, entries[i].value);
  free(entries);
}

static int read_base(const char *path, yaml_document_t *doc, yaml_node_t *base, gsvae_sweep_spec *spec, char *err) {
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

int gsvae_sweep_spec_load(const char *path, gsvae_sweep_spec *spec, char *err) {
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
    status = gsvae_errorf(err, "%s: expected a mapping with 'base', 'grid' and optionally 'set', 'groups', 'handout'", path);
  } else {
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start; !status && pair < root->data.mapping.pairs.top; pair++) {
      yaml_node_t *key = yaml_document_get_node(&doc, pair->key);
      const char *name = key && key->type == YAML_SCALAR_NODE ? (const char *)key->data.scalar.value : "?";
      if (strcmp(name, "base") && strcmp(name, "set") && strcmp(name, "grid") && strcmp(name, "groups") &&
          strcmp(name, "handout"))
        status = gsvae_errorf(err, "%s: unknown key '%s' (expected base, set, grid, groups, handout)", path, name);
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
    yaml_node_t *handout = mapping_value(&doc, root, "handout");
    if (!status && handout) {
      const char *text = handout->type == YAML_SCALAR_NODE ? (const char *)handout->data.scalar.value : "";
      if (!strcmp(text, "static")) spec->handout = GSVAE_HANDOUT_STATIC;
      else if (strcmp(text, "dynamic"))
        status = gsvae_errorf(err, "%s: 'handout: %s': expected dynamic (the default) or static", path, text);
    }
  }
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  fclose(file);
  return status;
}

int gsvae_sweep_value_index(const gsvae_sweep_spec *spec, int point, int key) {
  for (int k = spec->key_count - 1; k > key; k--) point /= spec->value_count[k];
  return point % spec->value_count[key];
}

void gsvae_sweep_point_name(const gsvae_sweep_spec *spec, int point, char *out, size_t size) {
  out[0] = '\0';
  for (int k = 0; k < spec->key_count; k++) {
    size_t used = strlen(out);
    snprintf(out + used, size - used, "%s%s-%s", k ? "_" : "", spec->keys[k],
             spec->values[k][gsvae_sweep_value_index(spec, point, k)]);
  }
  for (char *c = out; *c; c++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-_", *c)) *c = '_';
}

/* The base, then the command line, then the point's values, then its run.dir. */
int gsvae_sweep_point_config(const gsvae_sweep_spec *spec, int point, int cli_count, char **cli, const char *sweep_dir,
                             gsvae_config *config, char *err) {
  int count = 0;
  char **overrides = mallocCheck((size_t)(spec->base_count + cli_count + spec->key_count + 1) * sizeof(char *));
  for (int i = 0; i < spec->base_count; i++) overrides[count++] = spec->base_overrides[i];
  for (int i = 0; i < cli_count; i++) overrides[count++] = cli[i];
  int first_owned = count;
  for (int k = 0; k < spec->key_count; k++)
    overrides[count++] = join_override(spec->keys[k], spec->values[k][gsvae_sweep_value_index(spec, point, k)]);
  char name[1024], dir[GSVAE_PATH_LEN];
  gsvae_sweep_point_name(spec, point, name, sizeof name);
  snprintf(dir, sizeof dir, "%.3000s/%.1000s", sweep_dir, name);
  overrides[count++] = join_override("run.dir", dir);
  int status = gsvae_config_load(config, spec->base_path[0] ? spec->base_path : NULL, count, overrides, err);
  for (int i = first_owned; i < count; i++) free(overrides[i]);
  free(overrides);
  return status;
}

void gsvae_sweep_spec_free(gsvae_sweep_spec *spec) {
  for (int i = 0; i < spec->base_count; i++) free(spec->base_overrides[i]);
  free(spec->base_overrides);
  spec->base_overrides = NULL;
  spec->base_count = 0;
}
