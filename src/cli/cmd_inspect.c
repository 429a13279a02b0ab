/* `gsvae inspect PATH [--json]`: what a run dir, run.h5 or checkpoint holds: the config keys
 * set away from their defaults, steps, epochs, tau now, last and best losses, checkpoints. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/config_entries.h"
#include "analysis/run_read.h"
#include "core/check.h"
#include "cli/cli.h"

typedef struct {
  const char *name;
  double last, best;
} loss_summary;

static loss_summary summarize(const gsvae_curve_table *table, const char *column, const char *name) {
  loss_summary s = {name, NAN, NAN};
  const double *values = gsvae_curve_column(table, column);
  for (size_t i = 0; values && i < table->rows; i++) {
    if (isfinite(values[i]) && !(values[i] >= s.best)) s.best = values[i];
    s.last = values[i];
  }
  return s;
}

static void json_string(FILE *out, const char *text) {
  fputc('"', out);
  for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
    if (*c == '"' || *c == '\\') fprintf(out, "\\%c", *c);
    else if (*c == '\n') fputs("\\n", out);
    else if (*c < 0x20) fprintf(out, "\\u%04x", *c);
    else fputc(*c, out);
  }
  fputc('"', out);
}

/* JSON has no NaN: a value never logged is null. */
static void json_number(FILE *out, double value) {
  if (isfinite(value)) fprintf(out, "%.17g", value);
  else fputs("null", out);
}

static void print_json(const gsvae_run *run, const loss_summary *losses, int loss_count) {
  gsvae_config_entry *entries;
  int entry_count = gsvae_config_entries(&run->config, &entries);
  printf("{\n  \"file\": ");
  json_string(stdout, run->file);
  printf(",\n  \"dir\": ");
  json_string(stdout, run->dir);
  printf(",\n  \"kind\": \"%s\",\n  \"config\": {", run->is_checkpoint ? "checkpoint" : "run");
  for (int i = 0; i < entry_count; i++) {
    printf("%s\n    ", i ? "," : "");
    json_string(stdout, entries[i].key);
    printf(": ");
    json_string(stdout, entries[i].value);
  }
  printf("\n  },\n  \"step\": %ld,\n  \"step_rows\": %zu,\n  \"epochs\": %zu,\n  \"tau\": ", run->step,
         run->curves.steps.rows, run->curves.epochs.rows);
  json_number(stdout, run->tau);
  for (int i = 0; i < loss_count; i++) {
    printf(",\n  \"%s\": {\"last\": ", losses[i].name);
    json_number(stdout, losses[i].last);
    printf(", \"best\": ");
    json_number(stdout, losses[i].best);
    printf("}");
  }
  printf(",\n  \"checkpoints\": [");
  for (int i = 0; i < run->checkpoint_count; i++) {
    printf("%s", i ? ", " : "");
    json_string(stdout, run->checkpoints[i]);
  }
  printf("],\n  \"params\": ");
  if (run->params) printf("{\"tensors\": %d, \"count\": %zu}", gsvae_layout_tensor_count(&run->layout),
                          run->layout.param_count);
  else printf("null");
  printf("\n}\n");
  free(entries);
}

static void print_text(const gsvae_run *run, const loss_summary *losses, int loss_count) {
  printf("%s: %s of the run in %s\n", run->file, run->is_checkpoint ? "checkpoint" : "run file", run->dir);
  gsvae_config defaults;
  gsvae_config_defaults(&defaults);
  gsvae_config_entry *entries, *default_entries;
  int entry_count = gsvae_config_entries(&run->config, &entries);
  int default_count = gsvae_config_entries(&defaults, &default_entries);
  printf("config (keys away from their defaults):");
  for (int i = 0; i < entry_count; i++)
    if (i >= default_count || strcmp(entries[i].value, default_entries[i].value))
      printf("\n  %s = %s", entries[i].key, entries[i].value);
  printf("\nstep %ld | %zu step rows | %zu epochs | tau %.4g\n", run->step, run->curves.steps.rows,
         run->curves.epochs.rows, run->tau);
  printf("%-16s %12s %12s\n", "loss", "last", "best");
  for (int i = 0; i < loss_count; i++) printf("%-16s %12.4f %12.4f\n", losses[i].name, losses[i].last, losses[i].best);
  printf("checkpoints: %d\n", run->checkpoint_count);
  for (int i = 0; i < run->checkpoint_count; i++) printf("  %s\n", run->checkpoints[i]);
  if (run->params) printf("params: %zu in %d tensors\n", run->layout.param_count, gsvae_layout_tensor_count(&run->layout));
  else printf("params: none in this file\n");
  free(entries);
  free(default_entries);
}

int gsvae_cmd_inspect(int argc, char **argv) {
  const char *path = NULL;
  bool json = false;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--json")) json = true;
    else if (!path && argv[i][0] != '-') path = argv[i];
    else gsvae_fail(GSVAE_EXIT_USAGE, "inspect: unexpected argument '%s' (usage: gsvae inspect PATH [--json])", argv[i]);
  }
  if (!path) gsvae_fail(GSVAE_EXIT_USAGE, "inspect: expected a run directory, run.h5 or checkpoint");
  gsvae_run run;
  char err[GSVAE_ERR_LEN];
  if (gsvae_run_open(&run, path, false, err)) gsvae_fail(GSVAE_EXIT_USAGE, "%s", err);
  loss_summary losses[] = {summarize(&run.curves.steps, "relaxed", "relaxed"),
                           summarize(&run.curves.steps, "unrelaxed", "unrelaxed"),
                           summarize(&run.curves.epochs, "test_loss", "test_loss")};
  int loss_count = sizeof losses / sizeof losses[0];
  if (json) print_json(&run, losses, loss_count);
  else print_text(&run, losses, loss_count);
  gsvae_run_free(&run);
  return GSVAE_EXIT_OK;
}
