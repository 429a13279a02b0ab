/* Datasets: the four MNIST-layout IDX files (gzipped or not), validated, kept as bytes; the
 * per-epoch order and binarization, both drawn from the counter-based generator. */
#pragma once
#include <stdint.h>
#include "core/check.h"
#include "core/config.h"

typedef struct {
  int count;           /* images */
  int rows, cols;      /* 28 x 28 */
  int dim;             /* rows * cols */
  uint8_t *pixels;     /* count x dim, row-major; 0..255 */
  uint8_t *labels;     /* count */
} gsvae_dataset;

/* Reads one IDX image file and its label file (each gz or plain); checks magic, dimensions,
 * lengths and that the counts match. Returns 0, or -1 with a message naming the file. */
int gsvae_dataset_load(gsvae_dataset *dataset, const char *images_path, const char *labels_path, char *err);
/* Parses IDX images + labels from memory (the fuzzing entry point); names are for messages. */
int gsvae_dataset_parse(gsvae_dataset *dataset, const uint8_t *images, size_t images_length, const char *images_name,
                        const uint8_t *labels, size_t labels_length, const char *labels_name, char *err);
/* train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-* in dir. */
int gsvae_dataset_load_dir(const char *dir, gsvae_dataset *train, gsvae_dataset *test, char *err);
void gsvae_dataset_free(gsvae_dataset *dataset);

/* data.binarize=static: each pixel becomes 0 or 255 once, with probability pixel/255, from
 * (seed, BINARIZE, step 0, dataset index, pixel); `split` keeps train and test draws apart. */
void gsvae_dataset_binarize_static(gsvae_dataset *dataset, uint64_t seed, uint32_t split);

/* The order of epoch `epoch`: a Fisher-Yates shuffle of 0..count-1 driven by (seed, epoch). */
void gsvae_epoch_permutation(uint32_t *order, int count, uint64_t seed, long epoch);

/* One row of floats in [0,1] for dataset[index]; with dynamic binarization each pixel is
 * 1 with probability pixel/255 from (seed, BINARIZE, step, index, pixel). */
void gsvae_dataset_row(const gsvae_dataset *dataset, int index, gsvae_binarize binarize, uint64_t seed, long step,
                       float *out);
