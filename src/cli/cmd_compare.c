/* `gsvae compare DIR [--sort COLUMN] [--best N] [--iw K [--count N]] [-o FILE.png|FILE.svg]`: the
 * runs under a sweep directory as a table sorted by a column (runs without a value last), with
 * each sweep point's state (train/point_status.h); failed points listed as failed, after the
 * others. --iw adds the importance-weighted bound on -log p(x) of each run's final parameters on
 * the test split (as `gsvae eval --iw K`). The picture shows the best N runs' curves and the tau
 * curve of each schedule. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "analysis/config_entries.h"
#include "analysis/eval_bound.h"
#include "analysis/run_plot.h"
#include "analysis/run_read.h"
#include "core/check.h"
#include "cli/cli.h"
#include "cpu/float_mode.h"
#include "train/point_status.h"

enum { LABEL_LEN = 256, DEFAULT_BEST = 5 };

/* The columns a table can be sorted by, each the run's last (or best) epoch value. */
enum { COLUMN_TEST, COLUMN_BEST, COLUMN_RELAXED, COLUMN_UNRELAXED, COLUMN_IW, COLUMNS };
static const char *const COLUMN_NAMES[COLUMNS] = {"test", "best", "relaxed", "unrelaxed", "iw"};

typedef struct {
  char dir[GSVAE_PATH_LEN];
  gsvae_run run;
  bool opened;               /* run.h5 or a checkpoint could be read */
  gsvae_point_status status; /* TODO when the directory has no sweep_point.txt */
  double values[COLUMNS];
} entry;

static int sort_column;

static bool ranked(const entry *e) { return e->opened && e->status.state != GSVAE_POINT_FAILED; }

/* Ranked runs by the column, no value (NaN) last; then failed points; then the unreadable. */
static int by_column(const void *a, const void *b) {
  const entry *x = a, *y = b;
  int group_x = ranked(x) ? 0 : x->status.state == GSVAE_POINT_FAILED ? 1 : 2;
  int group_y = ranked(y) ? 0 : y->status.state == GSVAE_POINT_FAILED ? 1 : 2;
  if (group_x != group_y) return group_x - group_y;
  double u = x->values[sort_column], v = y->values[sort_column];
  if (isnan(u) || isnan(v)) return isnan(u) - isnan(v);
  return (u > v) - (u < v);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Subdirectories of dir that hold a run.h5, checkpoints or a sweep point's state, sorted by name. */
static int find_run_dirs(const char *dir, char ***out) {
  DIR *handle = opendir(dir);
  if (!handle) gsvae_fail(GSVAE_EXIT_USAGE, "compare: cannot read directory '%s'", dir);
  char **paths = NULL;
  int count = 0;
  struct dirent *entry;
  while ((entry = readdir(handle))) {
    if (entry->d_name[0] == '.') continue;
    char path[GSVAE_PATH_LEN], probe[GSVAE_PATH_LEN + 32];
    struct stat st;
    snprintf(path, sizeof path, "%.3000s/%.1000s", dir, entry->d_name);
    bool found = false;
    const char *const markers[] = {"run.h5", "ckpt", "sweep_point.txt"};
    for (int m = 0; m < 3 && !found; m++) {
      snprintf(probe, sizeof probe, "%s/%s", path, markers[m]);
      found = stat(probe, &st) == 0;
    }
    if (!found) continue;
    paths = realloc(paths, (size_t)(count + 1) * sizeof *paths);
    if (!paths) gsvae_abort(GSVAE_EXIT_RUNTIME, "out of memory listing %s", dir);
    paths[count++] = strdup(path);
  }
  closedir(handle);
  if (count) qsort(paths, (size_t)count, sizeof *paths, by_name);
  *out = paths;
  return count;
}

static double last_value(const gsvae_curve_table *table, int column) {
  return table->rows ? table->columns[column][table->rows - 1] : NAN;
}

static void read_entry(entry *e, const char *path) {
  char err[GSVAE_ERR_LEN];
  snprintf(e->dir, sizeof e->dir, "%s", path);
  if (gsvae_point_status_read(path, &e->status, err)) gsvae_fail(GSVAE_EXIT_USAGE, "compare: %s", err);
  e->opened = gsvae_run_open(&e->run, path, false, err) == 0;
  if (!e->opened && e->status.state == GSVAE_POINT_TODO) gsvae_fail(GSVAE_EXIT_USAGE, "compare: %s", err);
  for (int c = 0; c < COLUMNS; c++) e->values[c] = NAN;
  if (!e->opened) return;
  const gsvae_curve_table *epochs = &e->run.curves.epochs;
  e->values[COLUMN_TEST] = last_value(epochs, GSVAE_EPOCH_TEST_LOSS);
  e->values[COLUMN_RELAXED] = last_value(epochs, GSVAE_EPOCH_TRAIN_RELAXED);
  e->values[COLUMN_UNRELAXED] = last_value(epochs, GSVAE_EPOCH_TRAIN_UNRELAXED);
  for (size_t row = 0; row < epochs->rows; row++) {
    double loss = epochs->columns[GSVAE_EPOCH_TEST_LOSS][row];
    if (isfinite(loss) && !(loss >= e->values[COLUMN_BEST])) e->values[COLUMN_BEST] = loss;
  }
}

/* The importance-weighted bound of a ranked run's final parameters on `count` test images (all
 * when 0), `iw` samples per image, the noise seeded by train.seed as `gsvae eval`'s default. */
static void evaluate_iw(entry *e, long iw, long count) {
  char err[GSVAE_ERR_LEN];
  gsvae_dataset test;
  if (!ranked(e) || !e->run.params) return; /* no final parameters yet: no value */
  if (gsvae_run_load_split(&e->run.config, true, &test, err)) gsvae_fail(GSVAE_EXIT_DATA, "compare: %s", err);
  if (test.dim != e->run.layout.input_dim)
    gsvae_fail(GSVAE_EXIT_DATA, "compare: %s: images of %d pixels, but %s was trained on %d", e->run.config.data_dir,
               test.dim, e->run.file, e->run.layout.input_dim);
  gsvae_float_mode_set(e->run.config.train_flush_denormals);
  gsvae_eval_bounds bounds;
  gsvae_eval_run(&e->run, &test, count && count < test.count ? (int)count : test.count, iw, e->run.config.train_seed,
                 &bounds);
  e->values[COLUMN_IW] = bounds.neg_log_px_iw;
  gsvae_dataset_free(&test);
}

static long parse_positive(const char *option, const char *text) {
  char *end;
  long value = strtol(text, &end, 10);
  if (*end || !*text || value < 1) gsvae_fail(GSVAE_EXIT_USAGE, "compare: %s '%s': expected a positive integer", option, text);
  return value;
}

/* Whether two runs' tau curves are the same schedule: the same tau at the same steps. */
static bool same_tau(const gsvae_run *a, const gsvae_run *b) {
  const gsvae_curve_table *x = &a->curves.steps, *y = &b->curves.steps;
  if (x->rows != y->rows) return false;
  for (size_t i = 0; i < x->rows; i++)
    if (x->columns[GSVAE_STEP_STEP][i] != y->columns[GSVAE_STEP_STEP][i] ||
        x->columns[GSVAE_STEP_TAU][i] != y->columns[GSVAE_STEP_TAU][i])
      return false;
  return true;
}

/* The best `best` ranked runs' curves, and one tau curve per schedule among all readable runs. */
static void plot(const entry *entries, int count, int best, const char *out) {
  gsvae_run *shown = callocCheck((size_t)count, sizeof *shown), *schedules = callocCheck((size_t)count, sizeof *schedules);
  int shown_count = 0, schedule_count = 0;
  for (int i = 0; i < count; i++) {
    if (!entries[i].opened) continue;
    if (ranked(&entries[i]) && shown_count < best) shown[shown_count++] = entries[i].run; /* shallow copies */
    bool seen = false;
    for (int s = 0; s < schedule_count && !seen; s++) seen = same_tau(&schedules[s], &entries[i].run);
    if (!seen) schedules[schedule_count++] = entries[i].run;
  }
  char err[GSVAE_ERR_LEN];
  if (!shown_count) gsvae_fail(GSVAE_EXIT_USAGE, "compare: no run to plot (every point failed or has no curves)");
  if (gsvae_plot_runs(shown, shown_count, schedules, schedule_count, out, err))
    gsvae_fail(GSVAE_EXIT_USAGE, "compare: %s", err);
  printf("plot -> %s (the best %d run(s), %d tau schedule(s))\n", out, shown_count, schedule_count);
  free(shown);
  free(schedules);
}

int gsvae_cmd_compare(int argc, char **argv) {
  const char *dir = NULL, *out = NULL, *usage = "usage: gsvae compare DIR [--sort test|best|relaxed|unrelaxed|iw] "
                                                "[--best N] [--iw K [--count N]] [-o FILE.png|FILE.svg]";
  int best = DEFAULT_BEST;
  long iw = 0, iw_count = 0;
  sort_column = COLUMN_TEST;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--sort") && i + 1 < argc) {
      const char *name = argv[++i];
      for (sort_column = 0; sort_column < COLUMNS && strcmp(name, COLUMN_NAMES[sort_column]); sort_column++) continue;
      if (sort_column == COLUMNS)
        gsvae_fail(GSVAE_EXIT_USAGE, "compare: --sort '%s': expected test, best, relaxed, unrelaxed or iw", name);
    } else if (!strcmp(argv[i], "--best") && i + 1 < argc) best = (int)parse_positive("--best", argv[++i]);
    else if (!strcmp(argv[i], "--iw") && i + 1 < argc) iw = parse_positive("--iw", argv[++i]);
    else if (!strcmp(argv[i], "--count") && i + 1 < argc) iw_count = parse_positive("--count", argv[++i]);
    else if (!dir && argv[i][0] != '-') dir = argv[i];
    else gsvae_fail(GSVAE_EXIT_USAGE, "compare: unexpected argument '%s' (%s)", argv[i], usage);
  }
  if (!dir) gsvae_fail(GSVAE_EXIT_USAGE, "compare: %s", usage);
  if (sort_column == COLUMN_IW && !iw)
    gsvae_fail(GSVAE_EXIT_USAGE, "compare: --sort iw needs --iw K (compare evaluates the bound, K samples per image)");
  char **paths;
  int count = find_run_dirs(dir, &paths);
  if (!count)
    gsvae_fail(GSVAE_EXIT_USAGE, "compare: no run directories (with run.h5, ckpt/ or sweep_point.txt) under '%s'", dir);
  entry *entries = callocCheck((size_t)count, sizeof *entries);
  for (int i = 0; i < count; i++) {
    read_entry(&entries[i], paths[i]);
    if (iw) evaluate_iw(&entries[i], iw, iw_count);
  }
  qsort(entries, (size_t)count, sizeof *entries, by_column);

  /* Labels over the readable runs, in table order. */
  gsvae_run *readable = callocCheck((size_t)count, sizeof *readable);
  char **labels = mallocCheck((size_t)count * sizeof *labels);
  int readable_count = 0;
  for (int i = 0; i < count; i++)
    if (entries[i].opened) readable[readable_count++] = entries[i].run;
  for (int i = 0; i < readable_count; i++) labels[i] = mallocCheck(LABEL_LEN);
  gsvae_run_labels(readable, readable_count, NULL, labels, LABEL_LEN);
  int pad = iw ? 63 : 52; /* the value columns' width, left blank for a failed point */
  printf("sorted by %s\n%4s %10s %10s %10s %10s", COLUMN_NAMES[sort_column], "rank", "test", "best test", "relaxed",
         "unrelaxed");
  if (iw) printf(" %10s", "iw bound");
  printf(" %6s %-11s %s\n", "epochs", "state", "run (keys that differ)");
  for (int i = 0, label = 0, rank = 0; i < count; i++) {
    const entry *e = &entries[i];
    const char *name = strrchr(e->dir, '/');
    name = name ? name + 1 : e->dir;
    const char *state = e->status.state == GSVAE_POINT_TODO ? "-" : gsvae_point_state_name(e->status.state);
    if (ranked(e)) {
      printf("%4d %10.4f %10.4f %10.4f %10.4f", ++rank, e->values[COLUMN_TEST], e->values[COLUMN_BEST],
             e->values[COLUMN_RELAXED], e->values[COLUMN_UNRELAXED]);
      if (iw) printf(" %10.4f", e->values[COLUMN_IW]);
      printf(" %6zu %-11s %s  [%s]\n", e->run.curves.epochs.rows, state, labels[label], name);
    } else if (e->status.state == GSVAE_POINT_FAILED)
      printf("%4s %-*s %-11s %s  [%s]  exit %d: %s\n", "-", pad, "", state, e->opened ? labels[label] : "", name,
             e->status.exit_code, e->status.message);
    else
      printf("%4s %-*s %-11s [%s]  no curves yet\n", "-", pad, "", state, name);
    if (e->opened) label++;
  }
  if (out) plot(entries, count, best, out);
  for (int i = 0; i < count; i++) {
    if (entries[i].opened) gsvae_run_free(&entries[i].run);
    free(paths[i]);
  }
  for (int i = 0; i < readable_count; i++) free(labels[i]);
  free(readable);
  free(entries);
  free(labels);
  free(paths);
  return GSVAE_EXIT_OK;
}
