/* `gsvae eval CKPT [--split test|train] [--iw K] [--count N] [--seed S] [--json] [key=value ...]`:
 * the unrelaxed -ELBO of a split (BCE and KL apart, the trainer's test-loss noise) and, with
 * --iw K, the importance-weighted bound -log 1/K sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/eval_bound.h"
#include "analysis/run_read.h"
#include "core/check.h"
#include "cli/cli.h"
#include "cpu/float_mode.h"

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
  int dim = run.layout.input_dim;
  if (data.dim != dim)
    gsvae_fail(GSVAE_EXIT_DATA, "%s: images of %d pixels, but %s was trained on %d", run.config.data_dir, data.dim,
               run.file, dim);
  uint64_t seed = args.seed_given ? args.seed : run.config.train_seed;
  int count = args.count && args.count < data.count ? (int)args.count : data.count;

  gsvae_eval_bounds bounds;
  gsvae_eval_run(&run, &data, count, args.iw, seed, &bounds);
  double elbo = bounds.neg_elbo, bce = bounds.bce, kl = bounds.kl, iw_bound = bounds.neg_log_px_iw;
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
  gsvae_dataset_free(&data);
  gsvae_run_free(&run);
  return GSVAE_EXIT_OK;
}
