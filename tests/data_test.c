/* Data module: IDX files written here (plain and gz) load back byte for byte; every defect is
 * rejected with a message naming the file; epoch order and binarization have the right statistics;
 * mutated bytes never crash the parser. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "core/data.h"
#include "core/noise.h"

static int failures = 0;
#define EXPECT(cond, ...)                                    \
  do {                                                       \
    if (!(cond)) {                                           \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);   \
      fprintf(stderr, __VA_ARGS__);                          \
      fputc('\n', stderr);                                   \
      failures++;                                            \
    }                                                        \
  } while (0)

static char dir[256];

typedef struct {
  uint8_t *bytes;
  size_t length;
} buffer;

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Pixel p of image i: a pattern no two test images share. */
static uint8_t pixel_value(int i, int p) { return (uint8_t)((i * 37 + p * 11 + (i * p) % 7) & 0xFF); }
static uint8_t label_value(int i) { return (uint8_t)((i * 3) % 10); }

static buffer idx_images(int count, int rows, int cols) {
  buffer b = {malloc(16 + (size_t)count * rows * cols), 16 + (size_t)count * rows * cols};
  put_be32(b.bytes, 0x803);
  put_be32(b.bytes + 4, (uint32_t)count);
  put_be32(b.bytes + 8, (uint32_t)rows);
  put_be32(b.bytes + 12, (uint32_t)cols);
  for (int i = 0; i < count; i++)
    for (int p = 0; p < rows * cols; p++) b.bytes[16 + (size_t)i * rows * cols + p] = pixel_value(i, p);
  return b;
}

static buffer idx_labels(int count) {
  buffer b = {malloc(8 + (size_t)count), 8 + (size_t)count};
  put_be32(b.bytes, 0x801);
  put_be32(b.bytes + 4, (uint32_t)count);
  for (int i = 0; i < count; i++) b.bytes[8 + i] = label_value(i);
  return b;
}

static void write_file(const char *name, const uint8_t *bytes, size_t length, int gz) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (gz) {
    gzFile f = gzopen(path, "wb");
    if (!f || (length && gzwrite(f, bytes, (unsigned)length) != (int)length) || gzclose(f) != Z_OK) {
      fprintf(stderr, "cannot write %s\n", path);
      exit(1);
    }
  } else {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, length, f) != length || fclose(f) != 0) {
      fprintf(stderr, "cannot write %s\n", path);
      exit(1);
    }
  }
}

static void remove_dataset_files(void) {
  const char *names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                         "t10k-labels-idx1-ubyte"};
  char path[512];
  for (int i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    unlink(path);
    snprintf(path, sizeof path, "%s/%s.gz", dir, names[i]);
    unlink(path);
  }
}

/* A good data dir: train 7 images, test 5, 6x4 pixels; gz chooses which files are gzipped. */
static void write_good_dir(int gz_mask) {
  remove_dataset_files();
  buffer ti = idx_images(7, 6, 4), tl = idx_labels(7), vi = idx_images(5, 6, 4), vl = idx_labels(5);
  write_file(gz_mask & 1 ? "train-images-idx3-ubyte.gz" : "train-images-idx3-ubyte", ti.bytes, ti.length, gz_mask & 1);
  write_file(gz_mask & 2 ? "train-labels-idx1-ubyte.gz" : "train-labels-idx1-ubyte", tl.bytes, tl.length, gz_mask & 2);
  write_file(gz_mask & 4 ? "t10k-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte", vi.bytes, vi.length, gz_mask & 4);
  write_file(gz_mask & 8 ? "t10k-labels-idx1-ubyte.gz" : "t10k-labels-idx1-ubyte", vl.bytes, vl.length, gz_mask & 8);
  free(ti.bytes), free(tl.bytes), free(vi.bytes), free(vl.bytes);
}

static void check_contents(const gsvae_dataset *d, int count, int rows, int cols, const char *what) {
  EXPECT(d->count == count && d->rows == rows && d->cols == cols && d->dim == rows * cols,
         "%s: got %d images of %dx%d (dim %d), want %d of %dx%d", what, d->count, d->rows, d->cols, d->dim, count, rows,
         cols);
  if (d->count != count || d->dim != rows * cols) return;
  int wrong = 0;
  for (int i = 0; i < count; i++) {
    wrong += d->labels[i] != label_value(i);
    for (int p = 0; p < rows * cols; p++) wrong += d->pixels[(size_t)i * d->dim + p] != pixel_value(i, p);
  }
  EXPECT(wrong == 0, "%s: %d bytes differ from what was written", what, wrong);
}

static void test_load_good(void) {
  for (int gz_mask = 0; gz_mask < 16; gz_mask += 5) { /* 0, 5, 10, 15: none, mixed, all gzipped */
    write_good_dir(gz_mask);
    gsvae_dataset train, test;
    char err[GSVAE_ERR_LEN] = "";
    int status = gsvae_dataset_load_dir(dir, &train, &test, err);
    EXPECT(status == 0, "gz mask %d: load_dir failed: %s", gz_mask, err);
    if (status) continue;
    check_contents(&train, 7, 6, 4, "train");
    check_contents(&test, 5, 6, 4, "test");
    gsvae_dataset_free(&train);
    gsvae_dataset_free(&test);
  }
}

/* Loads dir expecting failure with a message containing every word given. */
static void expect_load_error(const char *defect, const char *words[]) {
  gsvae_dataset train, test;
  char err[GSVAE_ERR_LEN] = "";
  int status = gsvae_dataset_load_dir(dir, &train, &test, err);
  EXPECT(status == -1, "%s: load_dir returned %d, want -1", defect, status);
  EXPECT(train.pixels == NULL && test.pixels == NULL, "%s: datasets not left empty on failure", defect);
  for (int w = 0; words[w]; w++)
    EXPECT(strstr(err, words[w]) != NULL, "%s: message lacks \"%s\": %s", defect, words[w], err);
  printf("  %-28s -> %s\n", defect, err);
  if (status == 0) {
    gsvae_dataset_free(&train);
    gsvae_dataset_free(&test);
  }
}

/* Replaces one file of a good (plain) dir by the given bytes, gzipped or not. */
static void replace_file(const char *name, const uint8_t *bytes, size_t length, int gz) {
  write_good_dir(0);
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  unlink(path);
  char gz_name[128];
  snprintf(gz_name, sizeof gz_name, "%s.gz", name);
  write_file(gz ? gz_name : name, bytes, length, gz);
}

static void test_defects(void) {
  buffer images = idx_images(7, 6, 4), labels = idx_labels(7);
  uint8_t *work = malloc(images.length + 64);

  memcpy(work, images.bytes, images.length);
  put_be32(work, 0x801);
  replace_file("train-images-idx3-ubyte", work, images.length, 1);
  expect_load_error("wrong magic", (const char *[]){"train-images-idx3-ubyte.gz", "magic 0x00000801", "0x00000803", NULL});

  memcpy(work, labels.bytes, labels.length);
  put_be32(work, 0x803);
  replace_file("train-labels-idx1-ubyte", work, labels.length, 0);
  expect_load_error("wrong label magic", (const char *[]){"train-labels-idx1-ubyte", "magic", "0x00000801", NULL});

  replace_file("train-images-idx3-ubyte", images.bytes, images.length - 5, 1);
  expect_load_error("truncated pixels", (const char *[]){"train-images-idx3-ubyte.gz", "truncated", "168", "163", NULL});

  buffer five_labels = idx_labels(5);
  replace_file("t10k-labels-idx1-ubyte", five_labels.bytes, five_labels.length - 3, 0);
  free(five_labels.bytes);
  expect_load_error("truncated labels", (const char *[]){"t10k-labels-idx1-ubyte", "truncated", NULL});

  memcpy(work, images.bytes, images.length);
  memset(work + images.length, 9, 3);
  replace_file("train-images-idx3-ubyte", work, images.length + 3, 0);
  expect_load_error("trailing bytes", (const char *[]){"train-images-idx3-ubyte", "3 trailing bytes", NULL});

  replace_file("train-images-idx3-ubyte", images.bytes, 10, 1);
  expect_load_error("header cut short", (const char *[]){"train-images-idx3-ubyte.gz", "header", "16", NULL});

  replace_file("train-labels-idx1-ubyte", labels.bytes, 6, 0);
  expect_load_error("label header cut short", (const char *[]){"train-labels-idx1-ubyte", "header", "8", NULL});

  replace_file("train-images-idx3-ubyte", images.bytes, 0, 0);
  expect_load_error("empty file", (const char *[]){"train-images-idx3-ubyte", "header", NULL});

  buffer six_labels = idx_labels(6);
  replace_file("train-labels-idx1-ubyte", six_labels.bytes, six_labels.length, 1);
  expect_load_error("count mismatch", (const char *[]){"train-labels-idx1-ubyte.gz", "6 labels", "expected 7",
                                                       "train-images-idx3-ubyte", NULL});
  free(six_labels.bytes);

  for (int field = 1; field <= 3; field++) {
    memcpy(work, images.bytes, images.length);
    put_be32(work + 4 * field, 0);
    replace_file("train-images-idx3-ubyte", work, images.length, 0);
    expect_load_error("zero dimension", (const char *[]){"train-images-idx3-ubyte", "dimensions", NULL});
  }
  memcpy(work, images.bytes, images.length);
  put_be32(work + 8, 1 << 16);
  put_be32(work + 12, 1 << 16);
  replace_file("train-images-idx3-ubyte", work, images.length, 0);
  expect_load_error("huge dimensions", (const char *[]){"train-images-idx3-ubyte", "dimensions", NULL});

  /* a gzip file whose deflate stream is damaged, then one cut short */
  write_good_dir(15);
  char path[512];
  snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
  FILE *f = fopen(path, "rb");
  uint8_t gz_bytes[4096];
  size_t gz_length = fread(gz_bytes, 1, sizeof gz_bytes, f);
  fclose(f);
  uint8_t damaged[4096];
  memcpy(damaged, gz_bytes, gz_length);
  for (size_t i = 10; i < gz_length - 8; i++) damaged[i] ^= 0xA5;
  f = fopen(path, "wb");
  fwrite(damaged, 1, gz_length, f);
  fclose(f);
  expect_load_error("corrupt gzip", (const char *[]){"t10k-images-idx3-ubyte.gz", "gzip", NULL});
  f = fopen(path, "wb");
  fwrite(gz_bytes, 1, gz_length - 12, f);
  fclose(f);
  expect_load_error("gzip cut short", (const char *[]){"t10k-images-idx3-ubyte.gz", "gzip", NULL});

  write_good_dir(0);
  snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", dir);
  unlink(path);
  expect_load_error("missing file", (const char *[]){"t10k-labels-idx1-ubyte", "file not found", "test labels", NULL});

  char missing[512];
  snprintf(missing, sizeof missing, "%s/nope", dir);
  gsvae_dataset train, test;
  char err[GSVAE_ERR_LEN] = "";
  int status = gsvae_dataset_load_dir(missing, &train, &test, err);
  EXPECT(status == -1 && strstr(err, "does not exist") && strstr(err, missing), "missing dir: %d %s", status, err);
  printf("  %-28s -> %s\n", "missing dir", err);
  status = gsvae_dataset_load(&train, missing, missing, err);
  EXPECT(status == -1 && strstr(err, "file not found") && strstr(err, missing), "missing path: %d %s", status, err);

  buffer other_shape = idx_images(5, 4, 6);
  replace_file("t10k-images-idx3-ubyte", other_shape.bytes, other_shape.length, 0);
  expect_load_error("train/test shape mismatch", (const char *[]){"t10k-images-idx3-ubyte", "4 x 6", "6 x 4", NULL});
  free(other_shape.bytes);

  free(work);
  free(images.bytes);
  free(labels.bytes);
}

static int is_permutation(const uint32_t *order, int count) {
  char *seen = calloc((size_t)count + 1, 1);
  int ok = 1;
  for (int i = 0; i < count; i++) {
    if (order[i] >= (uint32_t)count || seen[order[i]]) ok = 0;
    else seen[order[i]] = 1;
  }
  free(seen);
  return ok;
}

static void test_permutation(void) {
  enum { N = 1000 };
  static uint32_t a[N], b[N], c[N], d[N];
  gsvae_epoch_permutation(a, N, 42, 3);
  gsvae_epoch_permutation(b, N, 42, 3);
  gsvae_epoch_permutation(c, N, 42, 4);
  gsvae_epoch_permutation(d, N, 43, 3);
  EXPECT(is_permutation(a, N), "not a permutation");
  EXPECT(memcmp(a, b, sizeof a) == 0, "same seed and epoch give different orders");
  EXPECT(memcmp(a, c, sizeof a) != 0, "epochs 3 and 4 give the same order");
  EXPECT(memcmp(a, d, sizeof a) != 0, "seeds 42 and 43 give the same order");
  int fixed = 0;
  for (int i = 0; i < N; i++) fixed += a[i] == (uint32_t)i;
  EXPECT(fixed < 10, "%d of %d elements stay in place", fixed, N);
  uint32_t one[1];
  gsvae_epoch_permutation(one, 1, 1, 0);
  EXPECT(one[0] == 0, "a single element moved");

  /* every element lands in every position with probability 1/n (catches Sattolo's off-by-one) */
  enum { SMALL = 4, EPOCHS = 16000 };
  int hits[SMALL][SMALL] = {{0}};
  for (long e = 0; e < EPOCHS; e++) {
    uint32_t order[SMALL];
    gsvae_epoch_permutation(order, SMALL, 7, e);
    EXPECT(is_permutation(order, SMALL), "epoch %ld: not a permutation", e);
    for (int p = 0; p < SMALL; p++) hits[p][order[p]]++;
  }
  double expected = (double)EPOCHS / SMALL, sigma = sqrt(EPOCHS * (1.0 / SMALL) * (1.0 - 1.0 / SMALL));
  for (int p = 0; p < SMALL; p++)
    for (int k = 0; k < SMALL; k++)
      EXPECT(fabs(hits[p][k] - expected) < 5 * sigma, "element %d at position %d %d times, expected %.0f +- %.0f", k, p,
             hits[p][k], expected, 5 * sigma);
}

static gsvae_dataset grey_dataset(int count, const uint8_t *row, int dim) {
  gsvae_dataset d = {count, 1, dim, dim, malloc((size_t)count * dim), calloc((size_t)count, 1)};
  for (int i = 0; i < count; i++) memcpy(d.pixels + (size_t)i * dim, row, dim);
  return d;
}

static void test_binarization(void) {
  enum { DIM = 9, STEPS = 6000 };
  const uint8_t row[DIM] = {0, 1, 30, 64, 128, 191, 200, 254, 255};
  gsvae_dataset d = grey_dataset(3, row, DIM);

  float out[DIM], plain[DIM];
  gsvae_dataset_row(&d, 1, GSVAE_BINARIZE_NONE, 5, 0, plain);
  for (int p = 0; p < DIM; p++) EXPECT(plain[p] == row[p] / 255.0f, "pixel %d: %g, want %g", p, plain[p], row[p] / 255.0);

  long ones[DIM] = {0};
  for (long step = 0; step < STEPS; step++) {
    gsvae_dataset_row(&d, 2, GSVAE_BINARIZE_DYNAMIC, 5, step, out);
    for (int p = 0; p < DIM; p++) {
      EXPECT(out[p] == 0.0f || out[p] == 1.0f, "dynamic pixel %g is not 0 or 1", out[p]);
      ones[p] += out[p] == 1.0f;
    }
  }
  for (int p = 0; p < DIM; p++) {
    double q = row[p] / 255.0, bound = 5 * sqrt(q * (1 - q) / STEPS), mean = (double)ones[p] / STEPS;
    EXPECT(fabs(mean - q) <= bound, "dynamic pixel %d: mean %.4f over %d steps, want %.4f +- %.4f", p, mean,
           STEPS, q, bound);
  }
  float again[DIM];
  gsvae_dataset_row(&d, 2, GSVAE_BINARIZE_DYNAMIC, 5, 17, out);
  gsvae_dataset_row(&d, 2, GSVAE_BINARIZE_DYNAMIC, 5, 17, again);
  EXPECT(memcmp(out, again, sizeof out) == 0, "dynamic binarization is not a function of (seed, step, index)");
  /* the draws are Philox's (seed, BINARIZE, step, index, pixel): check against the generator directly */
  for (int p = 0; p < DIM; p++) {
    float u = gsvae_uniform(5, GSVAE_NOISE_BINARIZE, 17, 2, (uint32_t)p);
    EXPECT(out[p] == (u < row[p] / 255.0f ? 1.0f : 0.0f), "dynamic pixel %d does not follow draw %d", p, p);
  }
  gsvae_dataset_free(&d);

  /* static: many copies of the same grey row, binarized once, each pixel's mean over copies ~ q */
  enum { COPIES = 6000 };
  gsvae_dataset s = grey_dataset(COPIES, row, DIM), s2 = grey_dataset(COPIES, row, DIM),
                t = grey_dataset(COPIES, row, DIM);
  gsvae_dataset_binarize_static(&s, 9, 0);
  gsvae_dataset_binarize_static(&s2, 9, 0);
  gsvae_dataset_binarize_static(&t, 9, 1);
  EXPECT(memcmp(s.pixels, s2.pixels, (size_t)COPIES * DIM) == 0, "static binarization is not deterministic");
  EXPECT(memcmp(s.pixels, t.pixels, (size_t)COPIES * DIM) != 0, "splits 0 and 1 draw the same");
  for (int p = 0; p < DIM; p++) {
    double count = 0;
    for (int i = 0; i < COPIES; i++) {
      uint8_t v = s.pixels[(size_t)i * DIM + p];
      EXPECT(v == 0 || v == 255, "static pixel %d is %d", p, v);
      count += v == 255;
    }
    double q = row[p] / 255.0, bound = 5 * sqrt(q * (1 - q) / COPIES);
    EXPECT(fabs(count / COPIES - q) <= bound, "static pixel %d: mean %.4f, want %.4f +- %.4f", p, count / COPIES, q,
           bound);
  }
  for (long step = 0; step < 3; step++) { /* a binarized dataset reads back as fixed 0/1 rows */
    gsvae_dataset_row(&s, 11, GSVAE_BINARIZE_STATIC, 9, step, out);
    for (int p = 0; p < DIM; p++) EXPECT(out[p] == s.pixels[11 * DIM + p] / 255.0f, "static row pixel %d", p);
  }
  gsvae_dataset_free(&s);
  gsvae_dataset_free(&s2);
  gsvae_dataset_free(&t);
}

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Mutated headers, lengths and bytes: parse either fails with a message or returns a dataset
 * whose sizes agree with the bytes it was given. */
static void test_fuzz(void) {
  buffer images = idx_images(5, 3, 4), labels = idx_labels(5);
  uint64_t state = 1234;
  int accepted = 0;
  for (int trial = 0; trial < 5000; trial++) {
    size_t images_length = images.length, labels_length = labels.length;
    uint8_t *im = malloc(images.length + 32), *lb = malloc(labels.length + 32);
    memcpy(im, images.bytes, images.length);
    memcpy(lb, labels.bytes, labels.length);
    int edits = 1 + (int)(splitmix64(&state) % 4);
    for (int e = 0; e < edits; e++) {
      uint64_t r = splitmix64(&state);
      int target = r & 1;
      uint8_t *bytes = target ? lb : im;
      size_t *length = target ? &labels_length : &images_length;
      switch ((r >> 1) % 5) {
        case 0: if (*length) bytes[(r >> 8) % *length] ^= (uint8_t)(1u << ((r >> 40) % 8)); break;
        case 1: if (*length) bytes[(r >> 8) % (*length < 16 ? *length : 16)] = (uint8_t)(r >> 48); break;
        case 2: *length = (r >> 8) % (*length + 1); break;
        case 3: {
          size_t extra = (r >> 8) % 32, base = target ? labels.length : images.length;
          if (*length + extra > base + 32) extra = base + 32 - *length;
          memset(bytes + *length, (int)(r >> 48), extra);
          *length += extra;
          break;
        }
        default: {
          size_t at = 4 + 4 * ((r >> 8) % 3);
          if (*length >= at + 4) put_be32(bytes + at, (uint32_t)(r >> 16));
        }
      }
    }
    gsvae_dataset d;
    char err[GSVAE_ERR_LEN] = "";
    if (gsvae_dataset_parse(&d, im, images_length, "fuzz-images", lb, labels_length, "fuzz-labels", err) == 0) {
      accepted++;
      EXPECT((size_t)d.count * d.dim + 16 == images_length && (size_t)d.count + 8 == labels_length &&
                 d.dim == d.rows * d.cols,
             "trial %d: accepted %d images of %dx%d from %zu/%zu bytes", trial, d.count, d.rows, d.cols, images_length,
             labels_length);
      gsvae_dataset_free(&d);
    } else {
      EXPECT(strstr(err, "fuzz-images") || strstr(err, "fuzz-labels"), "trial %d: message names no file: %s", trial,
             err);
      EXPECT(d.pixels == NULL && d.labels == NULL, "trial %d: failed parse left memory behind", trial);
    }
    free(im);
    free(lb);
  }
  EXPECT(accepted > 0 && accepted < 5000, "fuzz: %d of 5000 accepted; the mutations do not exercise both paths",
         accepted);
  printf("  fuzz: %d of 5000 mutated inputs accepted, the rest rejected with a message\n", accepted);
  free(images.bytes);
  free(labels.bytes);
}

int main(int argc, char **argv) {
  const char *base = argc > 1 ? argv[1] : "/tmp";
  snprintf(dir, sizeof dir, "%s/gsvae-data-XXXXXX", base);
  if (!mkdtemp(dir)) {
    perror(dir);
    return 1;
  }
  test_load_good();
  test_defects();
  test_permutation();
  test_binarization();
  test_fuzz();
  remove_dataset_files();
  rmdir(dir);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  else printf("data_test: all checks passed\n");
  return failures ? 1 : 0;
}
