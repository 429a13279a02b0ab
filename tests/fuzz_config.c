/* libFuzzer target: the YAML config parser on arbitrary text. */
#include <stdint.h>
#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gsvae_config config;
  char err[GSVAE_ERR_LEN];
  gsvae_config_defaults(&config);
  gsvae_config_load_yaml_text(&config, (const char *)data, size, "fuzz.yaml", err);
  return 0;
}
