/* `gsvae estimators CKPT [--estimators LIST] [--tau LIST] [--samples N] ...`: at a checkpoint's
 * parameters, on one batch, many draws of each estimator's gradient against the gradient of the
 * unrelaxed objective (exact by enumeration, or the local-expectation estimate and its error,
 * reference_gradient.h): relative bias, standard deviation, cosine, and cost per step, as a table,
 * --json, and a picture over tau (-o). Draws are dealt over the ranks of mpirun. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "analysis/run_read.h"
#include "model/backend.h"
#include "core/check.h"
#include "comm/comm.h"
#include "comm/node_placement.h"
#include "cli/cli.h"
#include "cpu/model_math.h"
#include "cpu/reference_gradient.h"
#include "analysis/estimators_plot.h"
#include "model/estimator_settings.h"
#include "cpu/float_mode.h"
#include "core/noise.h"
#include "cpu/noise_rows.h"
#include "cpu/threads.h"
#include "train/train.h"

#define USAGE                                                                                                   \
  "usage: gsvae estimators CKPT [--estimators LIST] [--tau LIST] [--samples N] [--reference auto|exact|local] " \
  "[--reference-samples M] [--batch N] [--start I] [--split train|test] [--seed S] [--json] [-o FILE.png] "      \
  "[key=value ...]"
/* auto enumerates up to this many configurations per input: beyond, the local expectation's
 * L*K decodes per draw cost less than K^L. */
#define AUTO_EXACT_CONFIGURATIONS 256
enum { MAX_ENTRIES = 64, DEFAULT_SAMPLES = 200 };

typedef struct {
  const char *path, *split, *reference, *plot;
  char estimators[1024], *taus; /* parsed in place */
  long samples, reference_samples, batch, start;
  uint64_t seed;
  bool seed_given, json;
  int override_count;
  char **overrides;
} estimators_args;

static long parse_count(const char *option, const char *text, long min) {
  char *end;
  long value = strtol(text, &end, 10);
  if (*end || !*text || value < min)
    gsvae_fail(GSVAE_EXIT_USAGE, "estimators: %s '%s': expected an integer >= %ld", option, text, min);
  return value;
}

static void parse_args(int argc, char **argv, estimators_args *args) {
  memset(args, 0, sizeof *args);
  args->split = "train";
  args->reference = "auto";
  gsvae_estimator_list(args->estimators, sizeof args->estimators, ",", NULL);
  args->samples = DEFAULT_SAMPLES;
  args->overrides = argv;
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    bool has_value = i + 1 < argc;
    if (!strcmp(arg, "--estimators") && has_value) {
      if (strlen(argv[++i]) >= sizeof args->estimators)
        gsvae_fail(GSVAE_EXIT_USAGE, "estimators: --estimators: a list of more than %zu characters",
                   sizeof args->estimators - 1);
      snprintf(args->estimators, sizeof args->estimators, "%s", argv[i]);
    }
    else if (!strcmp(arg, "--tau") && has_value) args->taus = argv[++i];
    else if (!strcmp(arg, "--samples") && has_value) args->samples = parse_count("--samples", argv[++i], 2);
    else if (!strcmp(arg, "--reference") && has_value) args->reference = argv[++i];
    else if (!strcmp(arg, "--reference-samples") && has_value)
      args->reference_samples = parse_count("--reference-samples", argv[++i], 2);
    else if (!strcmp(arg, "--batch") && has_value) args->batch = parse_count("--batch", argv[++i], 1);
    else if (!strcmp(arg, "--start") && has_value) args->start = parse_count("--start", argv[++i], 0);
    else if (!strcmp(arg, "--split") && has_value) args->split = argv[++i];
    else if (!strcmp(arg, "--seed") && has_value) {
      args->seed = (uint64_t)parse_count("--seed", argv[++i], 0);
      args->seed_given = true;
    } else if (!strcmp(arg, "--json")) args->json = true;
    else if (!strcmp(arg, "-o") && has_value) args->plot = argv[++i];
    else if (strchr(arg, '=') && arg[0] != '-') args->overrides[args->override_count++] = argv[i];
    else if (!args->path && arg[0] != '-') args->path = arg;
    else gsvae_fail(GSVAE_EXIT_USAGE, "estimators: unexpected argument '%s'\n%s", arg, USAGE);
  }
  if (!args->path) gsvae_fail(GSVAE_EXIT_USAGE, "estimators: no checkpoint given\n%s", USAGE);
  if (strcmp(args->split, "test") && strcmp(args->split, "train"))
    gsvae_fail(GSVAE_EXIT_USAGE, "estimators: --split '%s': expected train or test", args->split);
  if (strcmp(args->reference, "auto") && strcmp(args->reference, "exact") && strcmp(args->reference, "local"))
    gsvae_fail(GSVAE_EXIT_USAGE, "estimators: --reference '%s': expected auto, exact or local", args->reference);
  if (!args->reference_samples) args->reference_samples = args->samples;
  const char *dot = args->plot ? strrchr(args->plot, '.') : NULL;
  if (args->plot && (!dot || (strcasecmp(dot, ".png") && strcasecmp(dot, ".svg"))))
    gsvae_fail(GSVAE_EXIT_USAGE, "estimators: -o %s: expected a .png or .svg file name", args->plot);
}

/* One estimator of the list: its config (the checkpoint's, with train.estimator and its samples
 * set) and label. */
typedef struct {
  gsvae_config config;
  char label[48];
} estimator_entry;

/* "name" or "name:N" (N: train.estimator_samples, grmck's K or sf's samples). Without N an estimator
 * keeps the checkpoint's value if it trained with it, else the table's default (grmck 10, sf 4). sf's baseline
 * is always leave-one-out here: a moving average is the state of a training run, not of a batch. */
static int parse_estimators(char *list, const gsvae_config *base, estimator_entry *entries, char *err) {
  int count = 0;
  for (char *save = NULL, *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
    if (count == MAX_ENTRIES) return gsvae_errorf(err, "--estimators: more than %d entries", MAX_ENTRIES);
    estimator_entry *entry = &entries[count++];
    char *samples = strchr(item, ':');
    if (samples) *samples++ = '\0';
    entry->config = *base;
    gsvae_config *config = &entry->config;
    config->tau_learn = false;
    if (gsvae_config_set(config, "train.estimator", item, err)) {
      char all[128];
      gsvae_estimator_list(all, sizeof all, ",", NULL);
      return gsvae_errorf(err, "--estimators: '%s' is not an estimator (expected a comma-separated list of %s, each "
                               "optionally with :N samples)", item, all);
    }
    bool uses_samples = gsvae_estimator_takes_samples(config->train_estimator);
    if (samples && !uses_samples) {
      char takers[64];
      gsvae_estimator_list(takers, sizeof takers, " and ", gsvae_estimator_takes_samples);
      return gsvae_errorf(err, "--estimators: '%s:%s': only %s take a number of samples", item, samples, takers);
    }
    char key_err[GSVAE_ERR_LEN];
    if (samples && gsvae_config_set(config, "train.estimator_samples", samples, key_err))
      return gsvae_errorf(err, "--estimators: '%s:%s': %s", item, samples, key_err);
    if (!samples && config->train_estimator != base->train_estimator)
      config->train_estimator_samples =
          uses_samples ? gsvae_estimator_info_of(config->train_estimator)->default_samples : 1;
    config->train_sf_baseline = GSVAE_SF_BASELINE_LOO;
    if (gsvae_config_check(config, key_err)) return gsvae_errorf(err, "--estimators: '%s': %s", item, key_err);
    if (uses_samples) snprintf(entry->label, sizeof entry->label, "%s:%d", item, config->train_estimator_samples);
    else snprintf(entry->label, sizeof entry->label, "%s", item);
  }
  if (!count) return gsvae_errorf(err, "--estimators: the list is empty");
  return count;
}

static int parse_taus(char *list, double *taus, char *err) {
  int count = 0;
  for (char *save = NULL, *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
    char *end;
    double tau = strtod(item, &end);
    if (*end || end == item || !(tau > 0) || !isfinite(tau))
      return gsvae_errorf(err, "--tau: '%s' is not a positive temperature", item);
    if (count == MAX_ENTRIES) return gsvae_errorf(err, "--tau: more than %d temperatures", MAX_ENTRIES);
    taus[count++] = tau;
  }
  if (!count) return gsvae_errorf(err, "--tau: the list is empty");
  return count;
}

/* The checkpoint's layer tensors into the layout without tau.learn's log tau or sf's baseline,
 * which every estimator here shares (the temperature is set per row of the table). */
static float *layer_params(const gsvae_run *run, const gsvae_layout *layout) {
  float *params = mallocCheck(layout->param_count * sizeof(float));
  for (int t = 0; t < 2 * layout->layer_count; t++) {
    char name[32], source_name[32];
    int rank, source_rank;
    size_t shape[2], source_shape[2], offset, source_offset, length, source_length;
    gsvae_layout_tensor(layout, t, name, &rank, shape, &offset, &length);
    gsvae_layout_tensor(&run->layout, t, source_name, &source_rank, source_shape, &source_offset, &source_length);
    if (strcmp(name, source_name) || length != source_length)
      gsvae_fail(GSVAE_EXIT_CHECKPOINT, "%s: tensor %s does not match the model its config describes", run->file, name);
    memcpy(params + offset, run->params + source_offset, length * sizeof(float));
  }
  return params;
}

/* Running sums of gradient draws (each the per-image mean gradient of the batch), summed over
 * ranks by finish(). */
typedef struct {
  size_t count, encoder_end;
  double *sum;             /* count */
  double scalars[4 * ESTIMATOR_VIEWS];  /* per view: sum |g|^2, sum cos, sum cos^2, draws */
} draw_sums;

static double *view_scalar(draw_sums *sums, int what, int view) { return &sums->scalars[what * ESTIMATOR_VIEWS + view]; }
enum { SUM_SQUARES, SUM_COSINE, SUM_COSINE_SQUARES, SUM_DRAWS };

static size_t view_end(const draw_sums *sums, int view) { return view == ESTIMATOR_VIEW_ALL ? sums->count : sums->encoder_end; }

static double dot(const double *a, const double *b, size_t end) {
  double total = 0;
  for (size_t i = 0; i < end; i++) total += a[i] * b[i];
  return total;
}

static void sums_reset(draw_sums *sums) {
  memset(sums->sum, 0, sums->count * sizeof(double));
  memset(sums->scalars, 0, sizeof sums->scalars);
}

/* Adds one draw, grads / batch; its cosines with target when target != NULL. */
static void sums_add(draw_sums *sums, const float *grads, double batch, double *draw, const double *target,
                     const double *target_norm) {
  for (size_t i = 0; i < sums->count; i++) sums->sum[i] += draw[i] = grads[i] / batch;
  for (int view = 0; view < ESTIMATOR_VIEWS; view++) {
    size_t end = view_end(sums, view);
    double squares = dot(draw, draw, end);
    *view_scalar(sums, SUM_SQUARES, view) += squares;
    *view_scalar(sums, SUM_DRAWS, view) += 1;
    if (!target) continue;
    double cosine = squares > 0 ? dot(draw, target, end) / sqrt(squares) / target_norm[view] : 0;
    *view_scalar(sums, SUM_COSINE, view) += cosine;
    *view_scalar(sums, SUM_COSINE_SQUARES, view) += cosine * cosine;
  }
}

/* The sums over ranks; then sum holds the mean and variance[view] the total variance
 * E |g - E g|^2 (unbiased). */
static void sums_finish(draw_sums *sums, double *variance) {
  mpiCheck(MPI_Allreduce(MPI_IN_PLACE, sums->sum, (int)sums->count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
  mpiCheck(MPI_Allreduce(MPI_IN_PLACE, sums->scalars, 4 * ESTIMATOR_VIEWS, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
  double draws = *view_scalar(sums, SUM_DRAWS, ESTIMATOR_VIEW_ALL);
  for (size_t i = 0; i < sums->count; i++) sums->sum[i] /= draws;
  for (int view = 0; view < ESTIMATOR_VIEWS; view++) {
    double mean_squares = dot(sums->sum, sums->sum, view_end(sums, view));
    variance[view] = draws > 1 ? fmax(0, *view_scalar(sums, SUM_SQUARES, view) - draws * mean_squares) / (draws - 1) : 0;
  }
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* What the command works on: the batch, the parameters, and the reference with its error. */
typedef struct {
  gsvae_layout layout;
  float *params, *x;
  int batch, start, width;
  uint64_t seed;
  bool exact;
  long reference_draws;
  draw_sums reference;         /* .sum: the reference gradient (per image) */
  double reference_norm[ESTIMATOR_VIEWS];
  double reference_error[ESTIMATOR_VIEWS]; /* squared: E |reference - g*|^2 (0 when exact) */
  double objective;            /* the unrelaxed objective per image (its estimate when local) */
} workbench;

static void compute_reference(workbench *w) {
  int rank = gsvae_world_rank, size = gsvae_world_size, dim = w->layout.input_dim;
  size_t count = w->layout.param_count;
  float *grads = mallocCheck(count * sizeof(float));
  double *draw = mallocCheck(count * sizeof(double)), variance[ESTIMATOR_VIEWS], objective = 0;
  cpu_reference *reference = cpu_reference_create(&w->layout, w->batch, w->exact);
  sums_reset(&w->reference);
  if (w->exact) {
    /* images dealt over the ranks, each image's gradient on its own and added in double, so that
     * the sum does not depend on which rank held which image beyond a double's rounding */
    for (int b = rank; b < w->batch; b += size) {
      objective += cpu_reference_exact(reference, w->params, grads, w->x + (size_t)b * dim, 1);
      sums_add(&w->reference, grads, w->batch, draw, NULL, NULL);
    }
    mpiCheck(MPI_Allreduce(MPI_IN_PLACE, w->reference.sum, (int)count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
    mpiCheck(MPI_Allreduce(MPI_IN_PLACE, &objective, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
    memset(w->reference_error, 0, sizeof w->reference_error);
  } else { /* draws dealt over the ranks */
    float *gumbel = mallocCheck((size_t)w->batch * w->width * sizeof(float));
    for (long n = rank; n < w->reference_draws; n += size) {
      for (int b = 0; b < w->batch; b++)
        gsvae_fill_gumbel(gumbel + (size_t)b * w->width, (uint32_t)w->width, w->seed, GSVAE_NOISE_REFERENCE,
                          (uint64_t)n, (uint64_t)(w->start + b));
      objective += cpu_reference_local(reference, w->params, grads, w->x, w->batch, gumbel);
      sums_add(&w->reference, grads, w->batch, draw, NULL, NULL);
    }
    free(gumbel);
    sums_finish(&w->reference, variance);
    mpiCheck(MPI_Allreduce(MPI_IN_PLACE, &objective, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
    objective /= w->reference_draws;
    for (int view = 0; view < ESTIMATOR_VIEWS; view++) w->reference_error[view] = variance[view] / w->reference_draws;
  }
  w->objective = objective / w->batch;
  for (int view = 0; view < ESTIMATOR_VIEWS; view++)
    w->reference_norm[view] = sqrt(dot(w->reference.sum, w->reference.sum, view_end(&w->reference, view)));
  cpu_reference_free(reference);
  free(grads);
  free(draw);
}

static void measure(const workbench *w, const estimator_entry *entry, double tau, long samples, draw_sums *sums,
                    estimator_measure *out) {
  int rank = gsvae_world_rank, size = gsvae_world_size;
  size_t count = w->layout.param_count;
  gsvae_estimator_settings settings = gsvae_estimator_settings_of(&entry->config);
  size_t noise_width = gsvae_estimator_noise_width(&settings, w->width);
  float *noise = mallocCheck((size_t)w->batch * noise_width * sizeof(float)), *grads = mallocCheck(count * sizeof(float));
  double *draw = mallocCheck(count * sizeof(double)), *times = mallocCheck((size_t)samples * sizeof(double));
  int timed = 0;
  cpu_model *model = cpu_model_create(&w->layout, w->batch);
  sums_reset(sums);
  /* draw n uses the training noise of step n, the same for every estimator (common random numbers) */
  for (long n = rank; n < samples; n += size) {
    for (int b = 0; b < w->batch; b++)
      gsvae_estimator_fill_noise(noise + (size_t)b * noise_width, &settings, (uint32_t)w->width, w->seed, (uint64_t)n,
                                 (uint64_t)(w->start + b));
    double metric_sums[GSVAE_METRIC_SLOTS] = {0}, began = now_ms();
    cpu_model_forward_backward(model, w->params, grads, w->x, w->batch, noise, &settings, (float)tau, NULL, false,
                               metric_sums);
    times[timed++] = now_ms() - began;
    sums_add(sums, grads, w->batch, draw, w->reference.sum, w->reference_norm);
  }
  double variance[ESTIMATOR_VIEWS];
  sums_finish(sums, variance);
  memset(out, 0, sizeof *out);
  snprintf(out->label, sizeof out->label, "%s", entry->label);
  out->tau = tau;
  for (int view = 0; view < ESTIMATOR_VIEWS; view++) {
    size_t end = view_end(sums, view);
    double norm = w->reference_norm[view], draws = *view_scalar(sums, SUM_DRAWS, view), distance = 0;
    for (size_t i = 0; i < end; i++) distance += (sums->sum[i] - w->reference.sum[i]) * (sums->sum[i] - w->reference.sum[i]);
    /* E |mean - ref|^2 = bias^2 + tr(Var)/draws + E |ref - g*|^2: the last two are the floor */
    double floor = variance[view] / draws + w->reference_error[view];
    out->bias[view] = sqrt(fmax(0, distance - floor)) / norm;
    out->floor[view] = sqrt(floor) / norm;
    out->sd[view] = sqrt(variance[view]) / norm;
    double cosine = *view_scalar(sums, SUM_COSINE, view) / draws;
    double cosine_variance = (*view_scalar(sums, SUM_COSINE_SQUARES, view) - draws * cosine * cosine) / (draws - 1);
    out->cosine[view] = cosine;
    out->cosine_se[view] = sqrt(fmax(0, cosine_variance) / draws);
    double mean_norm = sqrt(dot(sums->sum, sums->sum, end));
    out->cosine_of_mean[view] = mean_norm > 0 ? dot(sums->sum, w->reference.sum, end) / mean_norm / norm : 0;
  }
  qsort(times, timed, sizeof *times, compare_doubles);
  out->step_ms = timed ? times[timed / 2] : NAN;
  cpu_model_free(model);
  free(noise), free(grads), free(draw), free(times);
}

static void print_table(const workbench *w, const estimators_args *args, const gsvae_run *run,
                        const estimator_measure *measures, int count) {
  printf("%s: parameters of step %ld; %d %s images from %d; %ld draws per estimator and tau\n", run->file, run->step,
         w->batch, args->split, w->start, args->samples);
  if (w->exact)
    printf("reference: the exact gradient of the unrelaxed -ELBO (all %ld latent configurations of each image)\n",
           cpu_reference_configurations(&w->layout));
  else
    printf("reference: the local-expectation estimate of the unrelaxed -ELBO's gradient, %ld draws; its error "
           "%.2g of |g| (%.2g of the encoder's)\n",
           w->reference_draws, sqrt(w->reference_error[0]) / w->reference_norm[0],
           sqrt(w->reference_error[1]) / w->reference_norm[1]);
  printf("unrelaxed -ELBO %.4f per image, |g| %.4g, encoder |g| %.4g; bias and sd relative to |g|, floor: the bias "
         "that finite draws alone show\n\n",
         w->objective, w->reference_norm[0], w->reference_norm[1]);
  printf("%-14s %7s | %8s %8s %8s %7s | %8s %8s %8s %7s | %8s %6s\n", "estimator", "tau", "bias", "floor", "sd",
         "cosine", "enc bias", "floor", "sd", "cosine", "ms/step", "x st");
  for (int i = 0; i < count; i++) {
    const estimator_measure *m = &measures[i];
    double st_ms = NAN;
    for (int j = 0; j < count; j++)
      if (!strcmp(measures[j].label, "st") && measures[j].tau == m->tau) st_ms = measures[j].step_ms;
    printf("%-14s %7.4g | %8.4f %8.4f %8.4f %7.4f | %8.4f %8.4f %8.4f %7.4f | %8.2f %6.2f\n", m->label, m->tau,
           m->bias[0], m->floor[0], m->sd[0], m->cosine[0], m->bias[1], m->floor[1], m->sd[1], m->cosine[1],
           m->step_ms, m->step_ms / st_ms);
  }
}

static void print_json(const workbench *w, const estimators_args *args, const gsvae_run *run,
                       const estimator_measure *measures, int count) {
  printf("{\"file\": \"%s\", \"step\": %ld, \"split\": \"%s\", \"images\": %d, \"start\": %d, \"draws\": %ld, "
         "\"reference\": \"%s\", \"reference_draws\": %ld, \"objective\": %.15g, \"gradient_norm\": [%.15g, %.15g], "
         "\"reference_error\": [%.6g, %.6g], \"measures\": [",
         run->file, run->step, args->split, w->batch, w->start, args->samples, w->exact ? "exact" : "local",
         w->exact ? 0 : w->reference_draws, w->objective, w->reference_norm[0], w->reference_norm[1],
         sqrt(w->reference_error[0]) / w->reference_norm[0], sqrt(w->reference_error[1]) / w->reference_norm[1]);
  for (int i = 0; i < count; i++) {
    const estimator_measure *m = &measures[i];
    printf("%s\n  {\"estimator\": \"%s\", \"tau\": %.10g, \"step_ms\": %.6g", i ? "," : "", m->label, m->tau, m->step_ms);
    const char *views[ESTIMATOR_VIEWS] = {"all", "encoder"};
    for (int view = 0; view < ESTIMATOR_VIEWS; view++)
      printf(", \"%s\": {\"bias\": %.12g, \"floor\": %.12g, \"sd\": %.12g, \"cosine\": %.12g, \"cosine_se\": %.12g, "
             "\"cosine_of_mean\": %.12g}",
             views[view], m->bias[view], m->floor[view], m->sd[view], m->cosine[view], m->cosine_se[view],
             m->cosine_of_mean[view]);
    printf("}");
  }
  printf("\n]}\n");
}

int gsvae_cmd_estimators(int argc, char **argv) {
  gsvae_mpi_start(&argc, &argv);
  estimators_args args;
  gsvae_run run;
  gsvae_dataset data;
  char err[GSVAE_ERR_LEN];
  parse_args(argc, argv, &args);
  if (gsvae_run_open(&run, args.path, true, err) || gsvae_run_override(&run, args.override_count, args.overrides, err))
    gsvae_fail(GSVAE_EXIT_USAGE, "estimators: %s", err);
  estimator_entry *entries = mallocCheck(MAX_ENTRIES * sizeof *entries);
  double taus[MAX_ENTRIES];
  int entry_count = parse_estimators(args.estimators, &run.config, entries, err);
  if (entry_count < 0) gsvae_fail(GSVAE_EXIT_USAGE, "estimators: %s", err);
  int tau_count = 1;
  if (args.taus) tau_count = parse_taus(args.taus, taus, err);
  else taus[0] = isfinite(run.tau) && run.tau > 0 ? run.tau : run.config.tau_init;
  if (tau_count < 0) gsvae_fail(GSVAE_EXIT_USAGE, "estimators: %s", err);
  gsvae_float_mode_set(run.config.train_flush_denormals);
  gsvae_share_cores_among_local_ranks(gsvae_node_placement_find(MPI_COMM_WORLD).local_ranks);
  if (gsvae_run_load_split(&run.config, !strcmp(args.split, "test"), &data, err))
    gsvae_fail(GSVAE_EXIT_DATA, "estimators: %s", err);

  workbench w;
  memset(&w, 0, sizeof w);
  gsvae_config plain = run.config;
  plain.tau_learn = false;
  plain.train_estimator = GSVAE_ESTIMATOR_GS;
  gsvae_layout_build(&w.layout, data.dim, &plain);
  if (data.dim != run.layout.input_dim)
    gsvae_fail(GSVAE_EXIT_DATA, "estimators: %s: images of %d pixels, but %s was trained on %d", run.config.data_dir,
               data.dim, run.file, run.layout.input_dim);
  if (args.start >= data.count)
    gsvae_fail(GSVAE_EXIT_USAGE, "estimators: --start %ld: the %s split has %d images", args.start, args.split,
               data.count);
  w.start = (int)args.start;
  w.batch = (int)(args.batch ? args.batch : run.config.train_batch);
  if (w.batch > data.count - w.start) w.batch = data.count - w.start;
  w.width = w.layout.latents * w.layout.categories;
  w.seed = args.seed_given ? args.seed : run.config.train_seed;
  long configurations = cpu_reference_configurations(&w.layout);
  if (!strcmp(args.reference, "exact") && !configurations)
    gsvae_fail(GSVAE_EXIT_USAGE, "estimators: --reference exact: %d^%d latent configurations per image are more than "
               "the %d it enumerates (use --reference local)", w.layout.categories, w.layout.latents,
               GSVAE_REFERENCE_MAX_CONFIGURATIONS);
  w.exact = !strcmp(args.reference, "exact") ||
            (!strcmp(args.reference, "auto") && configurations && configurations <= AUTO_EXACT_CONFIGURATIONS);
  w.reference_draws = args.reference_samples;
  w.params = layer_params(&run, &w.layout);
  w.x = mallocCheck((size_t)w.batch * data.dim * sizeof(float));
  for (int b = 0; b < w.batch; b++)
    gsvae_dataset_row(&data, w.start + b, run.config.data_binarize, run.config.train_seed, 0,
                      w.x + (size_t)b * data.dim);
  w.reference.count = w.layout.param_count;
  w.reference.encoder_end = w.layout.weight_offset[w.layout.encoder_layers];
  w.reference.sum = mallocCheck(w.layout.param_count * sizeof(double));
  compute_reference(&w);

  draw_sums sums = w.reference;
  sums.sum = mallocCheck(w.layout.param_count * sizeof(double));
  estimator_measure *measures = mallocCheck((size_t)tau_count * entry_count * sizeof *measures);
  for (int t = 0; t < tau_count; t++)
    for (int e = 0; e < entry_count; e++)
      measure(&w, &entries[e], taus[t], args.samples, &sums, &measures[t * entry_count + e]);
  int code = GSVAE_EXIT_OK;
  if (gsvae_world_rank == 0) {
    if (args.json) print_json(&w, &args, &run, measures, tau_count * entry_count);
    else print_table(&w, &args, &run, measures, tau_count * entry_count);
    char title[GSVAE_PATH_LEN + 64];
    snprintf(title, sizeof title, "%s, step %ld", run.file, run.step);
    if (args.plot && gsvae_plot_estimators(measures, tau_count * entry_count, title, args.plot, err)) {
      fprintf(stderr, "gsvae: error: estimators: %s\n", err);
      code = GSVAE_EXIT_USAGE;
    }
  }
  mpiCheck(MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD));
  free(measures), free(sums.sum), free(w.reference.sum), free(w.x), free(w.params), free(entries);
  gsvae_dataset_free(&data);
  gsvae_run_free(&run);
  mpiCheck(MPI_Finalize());
  return code;
}
