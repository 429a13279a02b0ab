/* `gsvae compare DIR [-o FILE.png|FILE.svg]`: the runs under a sweep directory as a table
 * sorted by final test loss (runs without one last), optionally plotted together. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "analysis/config_entries.h"
#include "analysis/run_plot.h"
#include "analysis/run_read.h"
#include "core/check.h"
#include "cli/cli.h"

enum { LABEL_LEN = 256 };

static double last_value(const gsvae_curve_table *table, int column) {
  return table->rows ? table->columns[column][table->rows - 1] : NAN;
}

static double final_test_loss(const gsvae_run *run) { return last_value(&run->curves.epochs, GSVAE_EPOCH_TEST_LOSS); }

static int by_test_loss(const void *a, const void *b) {
  double x = final_test_loss(a), y = final_test_loss(b);
  if (isnan(x) || isnan(y)) return isnan(x) - isnan(y);
  return (x > y) - (x < y);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Subdirectories of dir that hold a run.h5 or checkpoints, sorted by name. */
static int find_run_dirs(const char *dir, char ***out) {
  DIR *handle = opendir(dir);
  if (!handle) gsvae_fail(GSVAE_EXIT_USAGE, "compare: cannot read directory '%s'", dir);
  char **paths = NULL;
  int count = 0;
  struct dirent *entry;
  while ((entry = readdir(handle))) {
    if (entry->d_name[0] == '.') continue;
    char path[GSVAE_PATH_LEN], probe[GSVAE_PATH_LEN + 16];
    struct stat st;
    snprintf(path, sizeof path, "%.3000s/%.1000s", dir, entry->d_name);
    snprintf(probe, sizeof probe, "%s/run.h5", path);
    bool has_run = stat(probe, &st) == 0;
    snprintf(probe, sizeof probe, "%s/ckpt", path);
    if (!has_run && stat(probe, &st) != 0) continue;
    paths = realloc(paths, (size_t)(count + 1) * sizeof *paths);
    if (!paths) gsvae_abort(GSVAE_EXIT_RUNTIME, "out of memory listing %s", dir);
    paths[count++] = strdup(path);
  }
  closedir(handle);
  if (count) qsort(paths, (size_t)count, sizeof *paths, by_name);
  *out = paths;
  return count;
}

int gsvae_cmd_compare(int argc, char **argv) {
  const char *dir = NULL, *out = NULL;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
    else if (!dir && argv[i][0] != '-') dir = argv[i];
    else gsvae_fail(GSVAE_EXIT_USAGE, "compare: unexpected argument '%s' (usage: gsvae compare DIR [-o FILE.png])", argv[i]);
  }
  if (!dir) gsvae_fail(GSVAE_EXIT_USAGE, "compare: usage: gsvae compare DIR [-o FILE.png|FILE.svg]");
  char **paths, err[GSVAE_ERR_LEN];
  int count = find_run_dirs(dir, &paths);
  if (!count) gsvae_fail(GSVAE_EXIT_USAGE, "compare: no run directories (with run.h5 or ckpt/) under '%s'", dir);
  gsvae_run *runs = callocCheck((size_t)count, sizeof *runs);
  for (int i = 0; i < count; i++)
    if (gsvae_run_open(&runs[i], paths[i], false, err)) gsvae_fail(GSVAE_EXIT_USAGE, "compare: %s", err);
  qsort(runs, (size_t)count, sizeof *runs, by_test_loss);

  char **labels = mallocCheck((size_t)count * sizeof *labels);
  for (int i = 0; i < count; i++) labels[i] = mallocCheck(LABEL_LEN);
  gsvae_run_labels(runs, count, labels, LABEL_LEN);
  printf("%4s %10s %10s %10s %10s %6s  %s\n", "rank", "test", "best test", "relaxed", "unrelaxed", "epochs",
         "run (keys that differ)");
  for (int i = 0; i < count; i++) {
    const gsvae_curve_table *epochs = &runs[i].curves.epochs, *test = epochs;
    double best = NAN;
    for (size_t e = 0; e < test->rows; e++) {
      double loss = test->columns[GSVAE_EPOCH_TEST_LOSS][e];
      if (isfinite(loss) && !(loss >= best)) best = loss;
    }
    const char *name = strrchr(runs[i].dir, '/');
    printf("%4d %10.4f %10.4f %10.4f %10.4f %6zu  %s  [%s]\n", i + 1, final_test_loss(&runs[i]), best,
           last_value(epochs, GSVAE_EPOCH_TRAIN_RELAXED), last_value(epochs, GSVAE_EPOCH_TRAIN_UNRELAXED), epochs->rows,
           labels[i], name ? name + 1 : runs[i].dir);
  }
  if (out) {
    if (gsvae_plot_runs(runs, count, out, err)) gsvae_fail(GSVAE_EXIT_USAGE, "compare: %s", err);
    printf("plot -> %s\n", out);
  }
  for (int i = 0; i < count; i++) {
    gsvae_run_free(&runs[i]);
    free(labels[i]);
    free(paths[i]);
  }
  free(runs);
  free(labels);
  free(paths);
  return GSVAE_EXIT_OK;
}
