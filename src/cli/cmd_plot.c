/* `gsvae plot PATH... -o FILE.png|FILE.svg`: the curves of one or more runs in one picture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/run_plot.h"
#include "analysis/run_read.h"
#include "core/check.h"
#include "cli/cli.h"

int gsvae_cmd_plot(int argc, char **argv) {
  const char *out = NULL;
  gsvae_run *runs = callocCheck((size_t)(argc > 0 ? argc : 1), sizeof *runs);
  int count = 0;
  char err[GSVAE_ERR_LEN];
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
    else if (argv[i][0] == '-') gsvae_fail(GSVAE_EXIT_USAGE, "plot: unexpected argument '%s'", argv[i]);
    else if (gsvae_run_open(&runs[count++], argv[i], false, err)) gsvae_fail(GSVAE_EXIT_USAGE, "%s", err);
  }
  if (!count || !out) gsvae_fail(GSVAE_EXIT_USAGE, "plot: usage: gsvae plot PATH... -o FILE.png|FILE.svg");
  if (gsvae_plot_runs(runs, count, NULL, 0, out, err)) gsvae_fail(GSVAE_EXIT_USAGE, "%s", err);
  printf("%d run(s) -> %s\n", count, out);
  for (int i = 0; i < count; i++) gsvae_run_free(&runs[i]);
  free(runs);
  return GSVAE_EXIT_OK;
}
