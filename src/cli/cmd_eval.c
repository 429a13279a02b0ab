/* `gsvae eval CKPT [--split test|train] [--iw K] [--count N] [--seed S] [--json] [key=value ...]`:
 * the unrelaxed -ELBO of a split (BCE and KL apart, the trainer's test-loss noise) and, with
 * --iw K, the importance-weighted bound -log 1/K sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/run_read.h"
#include "model/backend.h"
#include "core/check.h"
#include "cli/cli.h"
#include "cpu/model_math.h"
#include "cpu/float_mode.h"
#include "core/noise.h"
#include "cpu/noise_rows.h"

enum { EVAL_BATCH = 100 };

typedef struct {
  const char *path, *split;
  long iw, count;
  uint64_t seed;
  bool seed_given, json;
  int override_count;
  char **overrides;
} eval_args;

static long parse_positive(const char *option, const char *text) {
  char *end;
  long value = strtol(text, &end, 10);
  if (*end || !*text || value < 1) gsvae_fail(GSVAE_EXIT_USAGE, "eval: %s '%s': expected a positive integer", option, text);
  return value;
}

static void parse_args(int argc, char **argv, eval_args *args) {
  memset(args, 0, sizeof *args);
  args->split = "test";
  args->overrides = argv;
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    bool has_value = i + 1 < argc;
    if (!strcmp(arg, "--split") && has_value) args->split = argv[++i];
    else if (!strcmp(arg, "--iw") && has_value) args->iw = parse_positive("--iw", argv[++i]);
    else if (!strcmp(arg, "--count") && has_value) args->count = parse_positive("--count", argv[++i]);
    else if (!strcmp(arg, "--seed") && has_value) {
      args->seed = (uint64_t)parse_positive("--seed", argv[++i]);
      args->seed_given = true;
    } else if (!strcmp(arg, "--json")) args->json = true;
    else if (strchr(arg, '=') && arg[0] != '-') args->overrides[args->override_count++] = argv[i];
    else if (!args->path && arg[0] != '-') args->path = arg;
    else gsvae_fail(GSVAE_EXIT_USAGE, "eval: unexpected argument '%s'", arg);
  }
  if (!args->path)
    gsvae_fail(GSVAE_EXIT_USAGE, "eval: usage: gsvae eval CKPT [--split test|train] [--iw K] [--count N] [--seed S] "
                                 "[--json] [data.dir=...]");
  if (strcmp(args->split, "test") && strcmp(args->split, "train"))
    gsvae_fail(GSVAE_EXIT_USAGE, "eval: --split '%s': expected test or train", args->split);
}

/* log sum_k exp(values[k]) in double, stable for the large negative log-weights of images. */
static double log_sum_exp(const double *values, long count) {
  double peak = -INFINITY, sum = 0.0;
  for (long k = 0; k < count; k++) if (values[k] > peak) peak = values[k];
  for (long k = 0; k < count; k++) sum += exp(values[k] - peak);
  return peak + log(sum);
}

static double softplus(double a) { return a > 0 ? a + log1p(exp(-a)) : log1p(exp(a)); }

/* Importance weights log p(x|z) + log p(z) - log q(z|x) of `iw` posterior samples for each
 * image of a batch; the bound's sum of -log(mean weight) over the batch is returned. */
static double importance_weighted_batch(const gsvae_run *run, cpu_model *model, const float *x, int batch,
                                        int first_index, long iw, uint64_t seed) {
  const gsvae_layout *layout = &run->layout;
  int latents = layout->latents, categories = layout->categories, width = latents * categories, dim = layout->input_dim;
  float *logits = mallocCheck((size_t)batch * width * sizeof(float));
  double *log_q_table = mallocCheck((size_t)batch * width * sizeof(double));
  float *z = mallocCheck((size_t)batch * width * sizeof(float));
  float *gumbel = mallocCheck((size_t)width * sizeof(float));
  float *output = mallocCheck((size_t)batch * dim * sizeof(float));
  double *log_weights = mallocCheck((size_t)batch * iw * sizeof(double));
  double *log_q = mallocCheck((size_t)batch * sizeof(double));
  cpu_model_encode(model, run->params, x, batch, logits);
  for (size_t row = 0; row < (size_t)batch * latents; row++) {  /* log_softmax per latent, in double */
    const float *in = logits + row * categories;
    double *out = log_q_table + row * categories, peak = -INFINITY, sum = 0.0;
    for (int c = 0; c < categories; c++) if (in[c] > peak) peak = in[c];
    for (int c = 0; c < categories; c++) sum += exp(in[c] - peak);
    for (int c = 0; c < categories; c++) out[c] = in[c] - peak - log(sum);
  }
  double log_prior = -latents * log((double)categories);
  for (long k = 0; k < iw; k++) {
    memset(z, 0, (size_t)batch * width * sizeof(float));
    for (int i = 0; i < batch; i++) {
      gsvae_fill_gumbel(gumbel, (uint32_t)width, seed, GSVAE_NOISE_IMPORTANCE, (uint64_t)k, (uint64_t)(first_index + i));
      log_q[i] = 0.0;
      for (int l = 0; l < latents; l++) {  /* Gumbel-max: an exact draw from the categorical q */
        const float *row = logits + (size_t)i * width + l * categories;
        const float *noise = gumbel + l * categories;
        int best = 0;
        for (int c = 1; c < categories; c++) if (row[c] + noise[c] > row[best] + noise[best]) best = c;
        z[(size_t)i * width + l * categories + best] = 1.0f;
        log_q[i] += log_q_table[((size_t)i * latents + l) * categories + best];
      }
    }
    cpu_model_decode(model, run->params, z, batch, output);
    for (int i = 0; i < batch; i++) {
      double log_likelihood = 0.0;
      for (int d = 0; d < dim; d++) {
        double a = output[(size_t)i * dim + d];
        log_likelihood -= softplus(a) - x[(size_t)i * dim + d] * a;
      }
      log_weights[(size_t)i * iw + k] = log_likelihood + log_prior - log_q[i];
    }
  }
  double bound = 0.0;
  for (int i = 0; i < batch; i++) bound -= log_sum_exp(log_weights + (size_t)i * iw, iw) - log((double)iw);
  free(logits);
  free(log_q_table);
  free(z);
  free(gumbel);
  free(output);
  free(log_weights);
  free(log_q);
  return bound;
}

int gsvae_cmd_eval(int argc, char **argv) {
  eval_args args;
  gsvae_run run;
  gsvae_dataset data;
  char err[GSVAE_ERR_LEN];
  parse_args(argc, argv, &args);
  if (gsvae_run_open(&run, args.path, true, err) || gsvae_run_override(&run, args.override_count, args.overrides, err))
    gsvae_fail(GSVAE_EXIT_USAGE, "%s", err);
  gsvae_float_mode_set(run.config.train_flush_denormals);
  bool test = !strcmp(args.split, "test");
  if (gsvae_run_load_split(&run.config, test, &data, err)) gsvae_fail(GSVAE_EXIT_DATA, "%s", err);
  int dim = run.layout.input_dim, width = run.layout.latents * run.layout.categories;
  if (data.dim != dim)
    gsvae_fail(GSVAE_EXIT_DATA, "%s: images of %d pixels, but %s was trained on %d", run.config.data_dir, data.dim,
               run.file, dim);
  uint64_t seed = args.seed_given ? args.seed : run.config.train_seed;
  int count = args.count && args.count < data.count ? (int)args.count : data.count;

  cpu_model *model = cpu_model_create(&run.layout, EVAL_BATCH);
  float *x = mallocCheck((size_t)EVAL_BATCH * dim * sizeof(float));
  float *gumbel = mallocCheck((size_t)EVAL_BATCH * width * sizeof(float));
  double sums[GSVAE_METRIC_SLOTS] = {0}, iw_sum = 0.0;
  for (int start = 0; start < count; start += EVAL_BATCH) {
    int batch = count - start < EVAL_BATCH ? count - start : EVAL_BATCH;
    for (int i = 0; i < batch; i++) {
      gsvae_dataset_row(&data, start + i, run.config.data_binarize, run.config.train_seed, 0, x + (size_t)i * dim);
      /* The trainer's test-loss noise, so the -ELBO on the test set is its test_loss. */
      gsvae_fill_gumbel(gumbel + (size_t)i * width, (uint32_t)width, run.config.train_seed, GSVAE_NOISE_EVAL, 0,
                        (uint64_t)(start + i));
    }
    cpu_model_unrelaxed_loss(model, run.params, x, batch, gumbel, sums);
    if (args.iw) iw_sum += importance_weighted_batch(&run, model, x, batch, start, args.iw, seed);
  }
  double n = count, elbo = sums[GSVAE_METRIC_RELAXED] / n, bce = sums[GSVAE_METRIC_BCE] / n,
         kl = sums[GSVAE_METRIC_KL] / n, iw_bound = args.iw ? iw_sum / n : NAN;
  if (!isfinite(elbo) || (args.iw && !isfinite(iw_bound)))
    gsvae_fail(GSVAE_EXIT_DIVERGED,
               "eval: %s: the -ELBO of the parameters of step %ld is %g, not finite: the run diverged; evaluate a "
               "checkpoint from before (gsvae inspect %s lists them)",
               run.file, run.step, isfinite(elbo) ? iw_bound : elbo, run.dir[0] ? run.dir : run.file);
  if (args.json) {
    printf("{\"file\": \"%s\", \"split\": \"%s\", \"images\": %d, \"step\": %ld, \"neg_elbo\": %.17g, \"bce\": %.17g, "
           "\"kl\": %.17g",
           run.file, args.split, count, run.step, elbo, bce, kl);
    if (args.iw) printf(", \"iw\": %ld, \"neg_log_px_iw\": %.17g", args.iw, iw_bound);
    printf("}\n");
  } else {
    printf("%s: %d %s images, parameters of step %ld\n", run.file, count, args.split, run.step);
    printf("-ELBO       %10.4f = BCE %.4f + KL %.4f (one posterior sample per image, the trainer's test noise)\n",
           elbo, bce, kl);
    if (args.iw)
      printf("-log p(x) <= %9.4f (importance-weighted, %ld posterior samples per image, seed %llu)\n", iw_bound,
             args.iw, (unsigned long long)seed);
  }
  cpu_model_free(model);
  free(x);
  free(gumbel);
  gsvae_dataset_free(&data);
  gsvae_run_free(&run);
  return GSVAE_EXIT_OK;
}
