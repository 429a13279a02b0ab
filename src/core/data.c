/* Datasets: reads and validates MNIST-layout IDX files (gz or plain) into bytes, and draws the
 * epoch order and binarization from the counter-based generator. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include "core/data.h"
#include "core/noise.h"

enum {
  IDX_IMAGES_MAGIC = 0x00000803, /* unsigned byte, 3 dimensions */
  IDX_LABELS_MAGIC = 0x00000801, /* unsigned byte, 1 dimension */
  IDX_IMAGES_HEADER = 16,
  IDX_LABELS_HEADER = 8,
  IDX_MAX_PIXELS = 1 << 20,      /* rows * cols */
  IDX_MAX_COUNT = 1 << 28        /* also keeps static binarization's (split << 28) + index apart */
};

static uint32_t read_be32(const uint8_t *bytes) {
  return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 | bytes[3];
}

/* Checks magic and header length of one IDX file; returns 0 or -1 with a message. */
static int check_header(const uint8_t *bytes, size_t length, const char *name, uint32_t magic, size_t header,
                        const char *what, char *err) {
  if (length < 4)
    return gsvae_errorf(err, "%s: header cut short: the file has %zu bytes, expected an IDX header of %zu bytes (%s)",
                        name, length, header, what);
  uint32_t found = read_be32(bytes);
  if (found != magic)
    return gsvae_errorf(err, "%s: bad magic 0x%08x, expected 0x%08x (%s)", name, found, magic, what);
  if (length < header)
    return gsvae_errorf(err, "%s: header cut short: the file has %zu bytes, expected an IDX header of %zu bytes (%s)",
                        name, length, header, what);
  return 0;
}

/* Checks that the payload after the header is exactly `expected` bytes. */
static int check_payload(size_t length, size_t header, uint64_t expected, const char *name, const char *what,
                         char *err) {
  uint64_t found = length - header;
  if (found < expected)
    return gsvae_errorf(err, "%s: truncated: expected %llu bytes of %s, found %llu", name,
                        (unsigned long long)expected, what, (unsigned long long)found);
  if (found > expected)
    return gsvae_errorf(err, "%s: %llu trailing bytes after the %llu bytes of %s the header announces", name,
                        (unsigned long long)(found - expected), (unsigned long long)expected, what);
  return 0;
}

int gsvae_dataset_parse(gsvae_dataset *dataset, const uint8_t *images, size_t images_length, const char *images_name,
                        const uint8_t *labels, size_t labels_length, const char *labels_name, char *err) {
  memset(dataset, 0, sizeof *dataset);
  if (check_header(images, images_length, images_name, IDX_IMAGES_MAGIC, IDX_IMAGES_HEADER,
                   "IDX unsigned-byte images", err))
    return -1;
  uint32_t count = read_be32(images + 4), rows = read_be32(images + 8), cols = read_be32(images + 12);
  if (count == 0 || rows == 0 || cols == 0 || count > IDX_MAX_COUNT || rows > IDX_MAX_PIXELS ||
      cols > IDX_MAX_PIXELS || (uint64_t)rows * cols > IDX_MAX_PIXELS)
    return gsvae_errorf(err,
                        "%s: bad dimensions: %u images of %u x %u pixels, expected each > 0, at most %d images "
                        "and rows * cols <= %d",
                        images_name, count, rows, cols, IDX_MAX_COUNT, IDX_MAX_PIXELS);
  uint64_t pixel_bytes = (uint64_t)count * rows * cols;
  if (check_payload(images_length, IDX_IMAGES_HEADER, pixel_bytes, images_name, "pixel data", err)) return -1;

  if (check_header(labels, labels_length, labels_name, IDX_LABELS_MAGIC, IDX_LABELS_HEADER,
                   "IDX unsigned-byte labels", err))
    return -1;
  uint32_t label_count = read_be32(labels + 4);
  if (label_count != count)
    return gsvae_errorf(err, "%s: %u labels, expected %u, one per image in %s", labels_name, label_count, count,
                        images_name);
  if (check_payload(labels_length, IDX_LABELS_HEADER, label_count, labels_name, "labels", err)) return -1;

  dataset->count = (int)count;
  dataset->rows = (int)rows;
  dataset->cols = (int)cols;
  dataset->dim = (int)(rows * cols);
  dataset->pixels = mallocCheck((size_t)pixel_bytes);
  dataset->labels = mallocCheck(count);
  memcpy(dataset->pixels, images + IDX_IMAGES_HEADER, (size_t)pixel_bytes);
  memcpy(dataset->labels, labels + IDX_LABELS_HEADER, count);
  return 0;
}

/* The whole (decompressed) content of path; gzread passes plain files through unchanged. */
static int read_file(const char *path, uint8_t **bytes, size_t *length, char *err) {
  *bytes = NULL;
  *length = 0;
  struct stat info;
  if (stat(path, &info) != 0) {
    if (errno == ENOENT) return gsvae_errorf(err, "%s: file not found", path);
    return gsvae_errorf(err, "%s: cannot open: %s", path, strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) return gsvae_errorf(err, "%s: not a regular file", path);
  gzFile gz = gzopen(path, "rb");
  if (!gz) return gsvae_errorf(err, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
  size_t capacity = 1 << 16;
  uint8_t *buffer = mallocCheck(capacity);
  for (;;) {
    if (*length == capacity) {
      capacity *= 2;
      uint8_t *grown = realloc(buffer, capacity);
      if (!grown) gsvae_abort(GSVAE_EXIT_RUNTIME, "out of memory reading %s (%zu bytes)", path, capacity);
      buffer = grown;
    }
    size_t room = capacity - *length;
    int got = gzread(gz, buffer + *length, (unsigned)(room < (size_t)INT_MAX ? room : (size_t)INT_MAX));
    if (got > 0) {
      *length += (size_t)got;
      continue;
    }
    /* a gzip stream cut short reads as a clean end but leaves Z_BUF_ERROR behind */
    int code;
    const char *message = gzerror(gz, &code);
    size_t path_length = strlen(path); /* zlib's message starts with the path too */
    if (strncmp(message, path, path_length) == 0 && strncmp(message + path_length, ": ", 2) == 0)
      message += path_length + 2;
    if (code != Z_OK) {
      if (gzdirect(gz)) gsvae_errorf(err, "%s: read error: %s", path, message);
      else gsvae_errorf(err, "%s: corrupt gzip stream: %s", path, message);
      gzclose(gz);
      free(buffer);
      *length = 0;
      return -1;
    }
    break;
  }
  if (gzclose(gz) != Z_OK) {
    free(buffer);
    *length = 0;
    return gsvae_errorf(err, "%s: read error at close: %s", path, strerror(errno));
  }
  *bytes = buffer;
  return 0;
}

int gsvae_dataset_load(gsvae_dataset *dataset, const char *images_path, const char *labels_path, char *err) {
  memset(dataset, 0, sizeof *dataset);
  uint8_t *images = NULL, *labels = NULL;
  size_t images_length = 0, labels_length = 0;
  int status = read_file(images_path, &images, &images_length, err);
  if (status == 0) status = read_file(labels_path, &labels, &labels_length, err);
  if (status == 0)
    status = gsvae_dataset_parse(dataset, images, images_length, images_path, labels, labels_length, labels_path, err);
  free(images);
  free(labels);
  return status;
}

/* dir/name, else dir/name.gz; a message saying what the file is when neither exists. */
static int find_file(const char *dir, const char *name, const char *what, char *path, size_t path_size, char *err) {
  struct stat info;
  if (snprintf(path, path_size, "%s/%s", dir, name) >= (int)path_size)
    return gsvae_errorf(err, "data.dir '%s': path too long", dir);
  if (stat(path, &info) == 0) return 0;
  if (snprintf(path, path_size, "%s/%s.gz", dir, name) >= (int)path_size)
    return gsvae_errorf(err, "data.dir '%s': path too long", dir);
  if (stat(path, &info) == 0) return 0;
  return gsvae_errorf(err, "%s/%s: file not found (the %s; %s.gz is missing too) in data.dir '%s'", dir, name, what,
                      name, dir);
}

static int load_split(const char *dir, const char *images_name, const char *labels_name, const char *what,
                      gsvae_dataset *dataset, char *err) {
  char images_path[GSVAE_PATH_LEN + 64], labels_path[GSVAE_PATH_LEN + 64], images_what[64], labels_what[64];
  snprintf(images_what, sizeof images_what, "%s images", what);
  snprintf(labels_what, sizeof labels_what, "%s labels", what);
  if (find_file(dir, images_name, images_what, images_path, sizeof images_path, err)) return -1;
  if (find_file(dir, labels_name, labels_what, labels_path, sizeof labels_path, err)) return -1;
  return gsvae_dataset_load(dataset, images_path, labels_path, err);
}

int gsvae_dataset_load_dir(const char *dir, gsvae_dataset *train, gsvae_dataset *test, char *err) {
  memset(train, 0, sizeof *train);
  memset(test, 0, sizeof *test);
  struct stat info;
  if (stat(dir, &info) != 0) {
    if (errno == ENOENT) return gsvae_errorf(err, "data.dir '%s' does not exist", dir);
    return gsvae_errorf(err, "data.dir '%s': %s", dir, strerror(errno));
  }
  if (!S_ISDIR(info.st_mode)) return gsvae_errorf(err, "data.dir '%s' is not a directory", dir);
  if (load_split(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "training", train, err)) return -1;
  if (load_split(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "test", test, err)) {
    gsvae_dataset_free(train);
    return -1;
  }
  if (test->rows != train->rows || test->cols != train->cols) {
    gsvae_errorf(err, "data.dir '%s': the test images (t10k-images-idx3-ubyte) are %d x %d pixels, expected %d x %d "
                 "like the training images (train-images-idx3-ubyte)", dir, test->rows, test->cols, train->rows,
                 train->cols);
    gsvae_dataset_free(train);
    gsvae_dataset_free(test);
    return -1;
  }
  return 0;
}

void gsvae_dataset_free(gsvae_dataset *dataset) {
  free(dataset->pixels);
  free(dataset->labels);
  memset(dataset, 0, sizeof *dataset);
}

/* sample = (split << 28) + index: datasets hold at most 2^28 images, so splits never share a draw. */
void gsvae_dataset_binarize_static(gsvae_dataset *dataset, uint64_t seed, uint32_t split) {
  float *u = mallocCheck((size_t)dataset->dim * sizeof(float));
  for (int i = 0; i < dataset->count; i++) {
    uint8_t *pixels = dataset->pixels + (size_t)i * dataset->dim;
    gsvae_fill_uniform(u, (uint32_t)dataset->dim, seed, GSVAE_NOISE_BINARIZE, 0, ((uint64_t)split << 28) + (uint64_t)i);
    for (int p = 0; p < dataset->dim; p++) pixels[p] = u[p] < pixels[p] / 255.0f ? 255 : 0;
  }
  free(u);
}

/* Fisher-Yates from the end. j is uniform in [0, i] by multiply-high: j = (x * (i+1)) >> 64 with x the
 * 64 bits of words 0 and 1 of block (seed, PERMUTATION, epoch, i, 0); its bias, at most (i+1)/2^64, is
 * far below anything measurable, and the draw is the same on every rank. */
void gsvae_epoch_permutation(uint32_t *order, int count, uint64_t seed, long epoch) {
  for (int i = 0; i < count; i++) order[i] = (uint32_t)i;
  for (int i = count - 1; i > 0; i--) {
    philox4x32_ctr_t r = gsvae_random_block(seed, GSVAE_NOISE_PERMUTATION, (uint64_t)epoch, (uint64_t)i, 0);
    uint64_t x = (uint64_t)r.v[0] << 32 | r.v[1];
    uint32_t j = (uint32_t)(((unsigned __int128)x * (uint64_t)(i + 1)) >> 64);
    uint32_t swap = order[i];
    order[i] = order[j];
    order[j] = swap;
  }
}

void gsvae_dataset_row(const gsvae_dataset *dataset, int index, gsvae_binarize binarize, uint64_t seed, long step,
                       float *out) {
  const uint8_t *pixels = dataset->pixels + (size_t)index * dataset->dim;
  if (binarize != GSVAE_BINARIZE_DYNAMIC) {
    for (int p = 0; p < dataset->dim; p++) out[p] = pixels[p] / 255.0f;
    return;
  }
  /* u is never 0 or 1, so black pixels stay 0 and white ones 1 */
  gsvae_fill_uniform(out, (uint32_t)dataset->dim, seed, GSVAE_NOISE_BINARIZE, (uint64_t)step, (uint64_t)index);
  for (int p = 0; p < dataset->dim; p++) out[p] = out[p] < pixels[p] / 255.0f ? 1.0f : 0.0f;
}
