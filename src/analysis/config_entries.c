/* The resolved config as dotted key = value entries (flattened from gsvae_config_to_yaml, so
 * the analysis commands never restate the key table), and run labels from the keys that differ. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "analysis/config_entries.h"
#include "core/check.h"

typedef struct {
  gsvae_config_entry *entries;
  int count, capacity;
} entry_list;

static void append_scalar_text(char *out, size_t size, const yaml_node_t *node) {
  size_t used = strlen(out);
  snprintf(out + used, size - used, "%.*s", (int)node->data.scalar.length, (const char *)node->data.scalar.value);
}

void gsvae_yaml_render_value(yaml_document_t *doc, yaml_node_t *node, char *out, size_t size) {
  out[0] = '\0';
  if (node->type == YAML_SCALAR_NODE) {
    append_scalar_text(out, size, node);
    return;
  }
  if (node->type != YAML_SEQUENCE_NODE) return;
  snprintf(out, size, "[");
  for (yaml_node_item_t *item = node->data.sequence.items.start; item < node->data.sequence.items.top; item++) {
    yaml_node_t *child = yaml_document_get_node(doc, *item);
    if (item > node->data.sequence.items.start) strncat(out, ", ", size - strlen(out) - 1);
    if (child && child->type == YAML_SCALAR_NODE) append_scalar_text(out, size, child);
  }
  strncat(out, "]", size - strlen(out) - 1);
}

static void flatten(yaml_document_t *doc, yaml_node_t *mapping, const char *prefix, entry_list *list) {
  for (yaml_node_pair_t *pair = mapping->data.mapping.pairs.start; pair < mapping->data.mapping.pairs.top; pair++) {
    yaml_node_t *key = yaml_document_get_node(doc, pair->key);
    yaml_node_t *value = yaml_document_get_node(doc, pair->value);
    if (!key || !value || key->type != YAML_SCALAR_NODE) continue;
    char dotted[64];
    snprintf(dotted, sizeof dotted, "%s%s%.*s", prefix, *prefix ? "." : "", (int)key->data.scalar.length,
             (const char *)key->data.scalar.value);
    if (value->type == YAML_MAPPING_NODE) {
      flatten(doc, value, dotted, list);
      continue;
    }
    if (list->count == list->capacity) {
      list->capacity = list->capacity ? 2 * list->capacity : 64;
      list->entries = realloc(list->entries, (size_t)list->capacity * sizeof *list->entries);
      if (!list->entries) gsvae_abort(GSVAE_EXIT_RUNTIME, "out of memory flattening the config");
    }
    gsvae_config_entry *entry = &list->entries[list->count++];
    snprintf(entry->key, sizeof entry->key, "%s", dotted);
    gsvae_yaml_render_value(doc, value, entry->value, sizeof entry->value);
  }
}

int gsvae_yaml_mapping_entries(yaml_document_t *doc, yaml_node_t *mapping, gsvae_config_entry **entries) {
  entry_list list = {0};
  flatten(doc, mapping, "", &list);
  *entries = list.entries ? list.entries : callocCheck(1, sizeof **entries);
  return list.count;
}

int gsvae_config_entries(const gsvae_config *config, gsvae_config_entry **entries) {
  char *yaml = gsvae_config_to_yaml(config);
  yaml_parser_t parser;
  yaml_document_t doc;
  int count = 0;
  *entries = NULL;
  if (!yaml_parser_initialize(&parser)) gsvae_abort(GSVAE_EXIT_RUNTIME, "libyaml: cannot initialize a parser");
  yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, strlen(yaml));
  /* The text is our own emitter's: failing to parse it back is a bug, not bad input. */
  if (!yaml_parser_load(&parser, &doc))
    gsvae_abort(GSVAE_EXIT_RUNTIME, "cannot parse the resolved config back: %s", parser.problem);
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (root && root->type == YAML_MAPPING_NODE) count = gsvae_yaml_mapping_entries(&doc, root, entries);
  else *entries = callocCheck(1, sizeof **entries);
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  free(yaml);
  return count;
}

static bool describes_location(const char *key) { return !strcmp(key, "run.dir") || !strcmp(key, "run.resume"); }

void gsvae_run_labels(const gsvae_run *runs, int count, const char *key_prefix, char **labels, size_t size) {
  gsvae_config_entry **entries = mallocCheck((size_t)count * sizeof *entries);
  int *entry_counts = mallocCheck((size_t)count * sizeof *entry_counts);
  for (int r = 0; r < count; r++) {
    entry_counts[r] = gsvae_config_entries(&runs[r].config, &entries[r]);
    labels[r][0] = '\0';
  }
  /* Every run flattens the same table, so entry i is the same key in every run. */
  for (int i = 0; count > 1 && i < entry_counts[0]; i++) {
    if (describes_location(entries[0][i].key)) continue;
    if (key_prefix && strncmp(entries[0][i].key, key_prefix, strlen(key_prefix))) continue;
    bool differs = false;
    for (int r = 1; r < count; r++)
      differs |= i >= entry_counts[r] || strcmp(entries[r][i].value, entries[0][i].value);
    for (int r = 0; differs && r < count; r++) {
      size_t used = strlen(labels[r]);
      if (i < entry_counts[r])
        snprintf(labels[r] + used, size - used, "%s%s=%s", used ? " " : "", entries[r][i].key, entries[r][i].value);
    }
  }
  for (int r = 0; r < count; r++) {
    if (!labels[r][0]) snprintf(labels[r], size, "%s", count > 1 ? runs[r].file : runs[r].dir);
    free(entries[r]);
  }
  free(entries);
  free(entry_counts);
}
