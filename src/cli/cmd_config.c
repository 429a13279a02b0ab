/* `gsvae config [CONFIG.yaml] [key=value ...] | --help`: the resolved config as YAML, and the
 * argv splitting (config file, then overrides) that `gsvae train` shares. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/check.h"
#include "cli/cli.h"
#include "core/config.h"

static int ends_with(const char *text, const char *suffix) {
  size_t length = strlen(text), suffix_length = strlen(suffix);
  return length >= suffix_length && !strcmp(text + length - suffix_length, suffix);
}

/* The first argument is the config file when it has no '=' and looks like one or exists; a
 * missing foo.yaml is still taken as the file, so that the error says it cannot be read. */
static int is_config_path(const char *arg) {
  struct stat info;
  if (strchr(arg, '=')) return 0;
  return ends_with(arg, ".yaml") || ends_with(arg, ".yml") || stat(arg, &info) == 0;
}

int gsvae_cli_load_config(int argc, char **argv, gsvae_config *config, char *err) {
  const char *path = argc > 0 && is_config_path(argv[0]) ? argv[0] : NULL;
  int first = path ? 1 : 0;
  return gsvae_config_load(config, path, argc - first, argv + first, err);
}

int gsvae_cmd_config(int argc, char **argv) {
  for (int i = 0; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      gsvae_config_print_help(stdout);
      return GSVAE_EXIT_OK;
    }
  gsvae_config config;
  char err[GSVAE_ERR_LEN];
  if (gsvae_cli_load_config(argc, argv, &config, err)) {
    fprintf(stderr, "gsvae: error: %s\n", err);
    return GSVAE_EXIT_USAGE;
  }
  char *yaml = gsvae_config_to_yaml(&config);
  fputs(yaml, stdout);
  free(yaml);
  return GSVAE_EXIT_OK;
}
