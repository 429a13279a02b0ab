/* libFuzzer target: the IDX parser on arbitrary bytes; the first byte picks where the images end
 * and the labels begin. */
#include <stdint.h>
#include "core/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  size_t split = 1 + (size - 1) * data[0] / 255;
  gsvae_dataset dataset;
  char err[GSVAE_ERR_LEN];
  if (gsvae_dataset_parse(&dataset, data + 1, split - 1, "images", data + split, size - split, "labels", err) == 0)
    gsvae_dataset_free(&dataset);
  return 0;
}
