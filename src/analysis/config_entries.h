/* The resolved config as dotted key = value entries (config_entries.c), and run labels from the
 * keys that differ between runs. */
#pragma once
#include <stddef.h>
#include <yaml.h>
#include "analysis/run_read.h"
#include "core/config.h"

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
 * left out; only keys starting with key_prefix unless it is NULL): "tau.rate=1e-4
 * train.estimator=st"; a lone run is named by its directory, runs that differ in no such key by
 * their file. labels[i] holds `size` chars. */
void gsvae_run_labels(const gsvae_run *runs, int count, const char *key_prefix, char **labels, size_t size);
