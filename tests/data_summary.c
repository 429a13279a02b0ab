/* Loads a data dir with gsvae_dataset_load_dir and prints what data_fashion_mnist.py compares
 * against its own reading of the files: sizes, label histogram, pixel sums and a position-weighted sum. */
#include <inttypes.h>
#include <stdio.h>
#include "core/data.h"

static void summarize(const char *split, const gsvae_dataset *d) {
  uint64_t sum = 0, weighted = 0;
  size_t total = (size_t)d->count * d->dim;
  for (size_t k = 0; k < total; k++) {
    sum += d->pixels[k];
    weighted += (uint64_t)d->pixels[k] * (k % 251 + 1);
  }
  long histogram[256] = {0};
  for (int i = 0; i < d->count; i++) histogram[d->labels[i]]++;
  printf("%s count %d rows %d cols %d pixel_sum %" PRIu64 " weighted_sum %" PRIu64 " labels", split, d->count, d->rows,
         d->cols, sum, weighted);
  for (int c = 0; c < 256; c++) printf(" %ld", histogram[c]);
  printf("\n");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
    return 2;
  }
  gsvae_dataset train, test;
  char err[GSVAE_ERR_LEN];
  if (gsvae_dataset_load_dir(argv[1], &train, &test, err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  summarize("train", &train);
  summarize("test", &test);
  gsvae_dataset_free(&train);
  gsvae_dataset_free(&test);
  return 0;
}
