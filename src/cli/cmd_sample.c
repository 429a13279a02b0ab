/* `gsvae sample CKPT -o FILE.png [--grid 8x8] [--seed S]`: images decoded from one-hot latents
 * drawn from the uniform categorical prior; `gsvae recon CKPT -o FILE.png [--grid 8x8]
 * [--split test|train] [key=value ...]`: data images beside their reconstructions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/png_grid.h"
#include "analysis/run_read.h"
#include "core/check.h"
#include "cli/cli.h"
#include "cpu/model_math.h"
#include "cpu/float_mode.h"
#include "core/noise.h"

typedef struct {
  const char *path, *out, *grid, *split;
  uint64_t seed;
  bool seed_given;
  int override_count;
  char **overrides;
} image_args;

static void parse_args(const char *command, int argc, char **argv, image_args *args) {
  memset(args, 0, sizeof *args);
  args->grid = "8x8";
  args->split = "test";
  args->overrides = argv;
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    bool has_value = i + 1 < argc;
    if (!strcmp(arg, "-o") && has_value) args->out = argv[++i];
    else if (!strcmp(arg, "--grid") && has_value) args->grid = argv[++i];
    else if (!strcmp(command, "sample") && !strcmp(arg, "--seed") && has_value) {
      char *end;
      args->seed = strtoull(argv[++i], &end, 10);
      if (*end || argv[i][0] == '-' || !argv[i][0])
        gsvae_fail(GSVAE_EXIT_USAGE, "sample: --seed '%s': expected a non-negative integer", argv[i]);
      args->seed_given = true;
    } else if (!strcmp(command, "recon") && !strcmp(arg, "--split") && has_value) args->split = argv[++i];
    else if (!strcmp(command, "recon") && strchr(arg, '=') && arg[0] != '-') args->overrides[args->override_count++] = argv[i];
    else if (!args->path && arg[0] != '-') args->path = arg;
    else gsvae_fail(GSVAE_EXIT_USAGE, "%s: unexpected argument '%s'", command, arg);
  }
  if (!args->path || !args->out)
    gsvae_fail(GSVAE_EXIT_USAGE, "%s: usage: gsvae %s CKPT -o FILE.png [--grid ROWSxCOLS]%s", command, command,
               !strcmp(command, "sample") ? " [--seed S]" : " [--split test|train] [data.dir=...]");
  if (strcmp(args->split, "test") && strcmp(args->split, "train"))
    gsvae_fail(GSVAE_EXIT_USAGE, "recon: --split '%s': expected test or train", args->split);
}

/* Images are square: the input size is the only shape the parameters carry. */
static int image_side(const gsvae_run *run) {
  int side = (int)lround(sqrt((double)run->layout.input_dim));
  if (side * side != run->layout.input_dim)
    gsvae_fail(GSVAE_EXIT_USAGE, "%s: input size %d is not a square image", run->file, run->layout.input_dim);
  return side;
}

/* Pixel probabilities sigmoid(decoder(z)) for `count` latent rows. */
static float *decode_images(const gsvae_run *run, const float *z, int count) {
  int dim = run->layout.input_dim;
  float *images = mallocCheck((size_t)count * dim * sizeof(float));
  cpu_model *model = cpu_model_create(&run->layout, count);
  cpu_model_decode(model, run->params, z, count, images);
  cpu_model_free(model);
  for (size_t i = 0; i < (size_t)count * dim; i++) images[i] = 1.0f / (1.0f + expf(-images[i]));
  return images;
}

static void open_run(const image_args *args, gsvae_run *run) {
  char err[GSVAE_ERR_LEN];
  if (gsvae_run_open(run, args->path, true, err) || gsvae_run_override(run, args->override_count, args->overrides, err))
    gsvae_fail(GSVAE_EXIT_USAGE, "%s", err);
  gsvae_float_mode_set(run->config.train_flush_denormals);
}

int gsvae_cmd_sample(int argc, char **argv) {
  image_args args;
  gsvae_run run;
  char err[GSVAE_ERR_LEN];
  int rows, cols;
  parse_args("sample", argc, argv, &args);
  if (gsvae_parse_grid(args.grid, &rows, &cols, err)) gsvae_fail(GSVAE_EXIT_USAGE, "%s", err);
  open_run(&args, &run);
  int side = image_side(&run), count = rows * cols;
  int latents = run.layout.latents, categories = run.layout.categories, width = latents * categories;
  uint64_t seed = args.seed_given ? args.seed : run.config.train_seed;
  float *z = callocCheck((size_t)count * width, sizeof(float));
  for (int i = 0; i < count; i++)
    for (int l = 0; l < latents; l++) {
      int c = (int)(gsvae_uniform(seed, GSVAE_NOISE_PRIOR, 0, (uint64_t)i, (uint32_t)l) * categories);
      z[(size_t)i * width + l * categories + (c < categories ? c : categories - 1)] = 1.0f;
    }
  float *images = decode_images(&run, z, count);
  if (gsvae_png_write_grid(args.out, images, count, rows, cols, side, side, err)) gsvae_fail(GSVAE_EXIT_RUNTIME, "%s", err);
  printf("%d samples from the prior (seed %llu) of %s -> %s (%dx%d px)\n", count, (unsigned long long)seed, run.file,
         args.out, cols * side, rows * side);
  free(z);
  free(images);
  gsvae_run_free(&run);
  return GSVAE_EXIT_OK;
}

/* Reconstructions decode the posterior mode: one-hot argmax of each latent's logits. */
int gsvae_cmd_recon(int argc, char **argv) {
  image_args args;
  gsvae_run run;
  gsvae_dataset data;
  char err[GSVAE_ERR_LEN];
  int rows, cols;
  parse_args("recon", argc, argv, &args);
  if (gsvae_parse_grid(args.grid, &rows, &cols, err)) gsvae_fail(GSVAE_EXIT_USAGE, "%s", err);
  if (cols % 2) gsvae_fail(GSVAE_EXIT_USAGE, "recon: --grid %s: expected an even column count (image, reconstruction)", args.grid);
  open_run(&args, &run);
  bool test = !strcmp(args.split, "test");
  if (gsvae_run_load_split(&run.config, test, &data, err)) gsvae_fail(GSVAE_EXIT_DATA, "%s", err);
  int side = image_side(&run), dim = run.layout.input_dim;
  if (data.dim != dim)
    gsvae_fail(GSVAE_EXIT_DATA, "%s: images of %d pixels, but %s was trained on %d", run.config.data_dir, data.dim,
               run.file, dim);
  int count = rows * cols / 2 < data.count ? rows * cols / 2 : data.count;
  int latents = run.layout.latents, categories = run.layout.categories, width = latents * categories;
  float *x = mallocCheck((size_t)count * dim * sizeof(float));
  float *logits = mallocCheck((size_t)count * width * sizeof(float));
  float *z = callocCheck((size_t)count * width, sizeof(float));
  for (int i = 0; i < count; i++)
    gsvae_dataset_row(&data, i, run.config.data_binarize, run.config.train_seed, 0, x + (size_t)i * dim);
  cpu_model *model = cpu_model_create(&run.layout, count);
  cpu_model_encode(model, run.params, x, count, logits);
  cpu_model_free(model);
  for (int i = 0; i < count; i++)
    for (int l = 0; l < latents; l++) {
      const float *row = logits + (size_t)i * width + l * categories;
      int best = 0;
      for (int c = 1; c < categories; c++) if (row[c] > row[best]) best = c;
      z[(size_t)i * width + l * categories + best] = 1.0f;
    }
  float *recon = decode_images(&run, z, count);
  float *tiles = mallocCheck((size_t)2 * count * dim * sizeof(float));
  for (int i = 0; i < count; i++) {
    memcpy(tiles + (size_t)2 * i * dim, x + (size_t)i * dim, dim * sizeof(float));
    memcpy(tiles + (size_t)(2 * i + 1) * dim, recon + (size_t)i * dim, dim * sizeof(float));
  }
  if (gsvae_png_write_grid(args.out, tiles, 2 * count, rows, cols, side, side, err))
    gsvae_fail(GSVAE_EXIT_RUNTIME, "%s", err);
  printf("%d %s images and their reconstructions by %s -> %s\n", count, args.split, run.file, args.out);
  free(x);
  free(logits);
  free(z);
  free(recon);
  free(tiles);
  gsvae_dataset_free(&data);
  gsvae_run_free(&run);
  return GSVAE_EXIT_OK;
}
