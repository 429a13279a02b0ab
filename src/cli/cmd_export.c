/* `gsvae export PATH --csv FILE`: the step curves into FILE and the epoch curves into FILE
 * with "_epochs" before its extension (runs.csv -> runs_epochs.csv); a header row of the
 * column names, an empty field where a value was not logged (NaN). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "analysis/run_read.h"
#include "core/check.h"
#include "cli/cli.h"

static int write_csv(const char *path, const gsvae_curve_table *table, char *err) {
  FILE *out = fopen(path, "w");
  if (!out) return gsvae_errorf(err, "%s: cannot write: %s", path, strerror(errno));
  for (int c = 0; c < table->column_count; c++) fprintf(out, "%s%s", c ? "," : "", table->names[c]);
  fputc('\n', out);
  for (size_t row = 0; row < table->rows; row++) {
    for (int c = 0; c < table->column_count; c++) {
      double value = table->columns[c][row];
      if (c) fputc(',', out);
      if (table->is_integer[c]) fprintf(out, "%lld", (long long)value);
      else if (isfinite(value)) fprintf(out, "%.10g", value);
    }
    fputc('\n', out);
  }
  if (ferror(out) | fclose(out)) return gsvae_errorf(err, "%s: write failed: %s", path, strerror(errno));
  return 0;
}

/* FILE.csv -> FILE_epochs.csv; an extension only counts after the last slash. */
static void epochs_path(const char *path, char *out, size_t size) {
  const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
  size_t stem = dot && (!slash || dot > slash + 1) ? (size_t)(dot - path) : strlen(path);
  snprintf(out, size, "%.*s_epochs%s", (int)stem, path, path + stem);
}

int gsvae_cmd_export(int argc, char **argv) {
  const char *path = NULL, *csv = NULL;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--csv") && i + 1 < argc) csv = argv[++i];
    else if (!path && argv[i][0] != '-') path = argv[i];
    else gsvae_fail(GSVAE_EXIT_USAGE, "export: unexpected argument '%s' (usage: gsvae export PATH --csv FILE)", argv[i]);
  }
  if (!path || !csv) gsvae_fail(GSVAE_EXIT_USAGE, "export: usage: gsvae export PATH --csv FILE");
  gsvae_run run;
  char err[GSVAE_ERR_LEN], epochs_csv[GSVAE_PATH_LEN + 16];
  if (gsvae_run_open(&run, path, false, err)) gsvae_fail(GSVAE_EXIT_USAGE, "%s", err);
  epochs_path(csv, epochs_csv, sizeof epochs_csv);
  if (write_csv(csv, &run.curves.steps, err) || write_csv(epochs_csv, &run.curves.epochs, err))
    gsvae_fail(GSVAE_EXIT_RUNTIME, "%s", err);
  printf("%zu step rows -> %s\n%zu epoch rows -> %s\n", run.curves.steps.rows, csv, run.curves.epochs.rows, epochs_csv);
  gsvae_run_free(&run);
  return GSVAE_EXIT_OK;
}
