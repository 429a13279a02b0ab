/* The curves of one or more runs as a PLplot picture (run_plot.h): relaxed (solid) and unrelaxed
 * (dashed) training loss, test loss (circles), tau (dotted, right axis), one colour per run (or
 * per tau schedule), a legend naming each by the config keys that differ between them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/config_entries.h"
#include "analysis/plot_page.h"
#include "analysis/run_plot.h"
#include "core/check.h"
#ifdef GSVAE_HAVE_PLPLOT
#include <plplot/plplot.h>

enum { FIRST_RUN_COLOUR = GSVAE_PLOT_FIRST_COLOUR, RUN_COLOURS = GSVAE_PLOT_COLOURS, LABEL_LEN = 256 };

/* Dash patterns in micrometres on the page: mark, space. */
static const int UNRELAXED_DASHES[2] = {3000, 1800}, TAU_DOTS[2] = {400, 1600};

static void set_dashes(const int pattern[2]) {
  const int mark = pattern[0], space = pattern[1];
  plstyl(1, &mark, &space);
}

/* Epoch e's test loss sits at the last logged step of epoch e (the run's step at that epoch's
 * end when log_every divides it), else at e times the mean steps per epoch. */
static double *epoch_steps(const gsvae_run *run) {
  const gsvae_curve_table *steps = &run->curves.steps, *epochs = &run->curves.epochs;
  double *x = mallocCheck((epochs->rows + 1) * sizeof(double));
  const double *step = steps->columns[GSVAE_STEP_STEP], *step_epoch = steps->columns[GSVAE_STEP_EPOCH];
  double per_epoch = steps->rows ? step[steps->rows - 1] / step_epoch[steps->rows - 1] : 1.0;
  for (size_t e = 0; e < epochs->rows; e++) {
    double epoch = epochs->columns[GSVAE_EPOCH_EPOCH][e];
    x[e] = epoch * per_epoch;
    for (size_t i = 0; i < steps->rows; i++)
      if (step_epoch[i] == epoch) x[e] = step[i];
  }
  return x;
}

typedef struct {
  double x_max, y_min, y_max, tau_max;
} plot_ranges;

static void widen(double *low, double *high, const double *values, size_t from, size_t to) {
  for (size_t i = from; i < to; i++)
    if (isfinite(values[i])) {
      if (values[i] < *low) *low = values[i];
      if (values[i] > *high) *high = values[i];
    }
}

/* The first tenth of the steps (the drop from the initial loss) is left off the loss axis so
 * that the differences between runs, which come later, are visible. */
static plot_ranges find_ranges(const gsvae_run *runs, int count, const gsvae_run *tau_runs, int tau_count) {
  plot_ranges r = {1.0, INFINITY, -INFINITY, 0.0};
  double tau_low = INFINITY, x_low = INFINITY;
  for (int i = 0; i < count; i++) {
    const gsvae_curve_table *steps = &runs[i].curves.steps, *epochs = &runs[i].curves.epochs;
    size_t skip = steps->rows / 10;
    widen(&x_low, &r.x_max, steps->columns[GSVAE_STEP_STEP], 0, steps->rows);
    widen(&r.y_min, &r.y_max, steps->columns[GSVAE_STEP_RELAXED], skip, steps->rows);
    widen(&r.y_min, &r.y_max, steps->columns[GSVAE_STEP_UNRELAXED], skip, steps->rows);
    widen(&r.y_min, &r.y_max, epochs->columns[GSVAE_EPOCH_TEST_LOSS], 0, epochs->rows);
    widen(&tau_low, &r.tau_max, steps->columns[GSVAE_STEP_TAU], 0, steps->rows);
  }
  for (int i = 0; i < tau_count; i++)
    widen(&tau_low, &r.tau_max, tau_runs[i].curves.steps.columns[GSVAE_STEP_TAU], 0, tau_runs[i].curves.steps.rows);
  double margin = 0.05 * (r.y_max - r.y_min) + 1e-3 * fabs(r.y_max) + 1e-9;
  r.y_min -= margin;
  r.y_max += margin;
  if (!(r.tau_max > 0)) r.tau_max = 1.0;
  r.tau_max *= 1.1;
  return r;
}

static void draw_tau(const gsvae_run *run, int colour, const plot_ranges *r) {
  const gsvae_curve_table *steps = &run->curves.steps;
  plcol0(colour);
  plwind(0.0, r->x_max, 0.0, r->tau_max);
  set_dashes(TAU_DOTS);
  gsvae_plot_line_finite((int)steps->rows, steps->columns[GSVAE_STEP_STEP], steps->columns[GSVAE_STEP_TAU]);
  pllsty(1);
}

static void draw_run(const gsvae_run *run, int colour, bool with_tau, const plot_ranges *r) {
  const gsvae_curve_table *steps = &run->curves.steps, *epochs = &run->curves.epochs;
  const double *x = steps->columns[GSVAE_STEP_STEP];
  int n = (int)steps->rows;
  plcol0(colour);
  plwind(0.0, r->x_max, r->y_min, r->y_max);
  plwidth(1.6);
  pllsty(1);
  gsvae_plot_line_finite(n, x, steps->columns[GSVAE_STEP_RELAXED]);
  set_dashes(UNRELAXED_DASHES);
  gsvae_plot_line_finite(n, x, steps->columns[GSVAE_STEP_UNRELAXED]);
  pllsty(1);
  plwidth(1.0);
  double *epoch_x = epoch_steps(run);
  const double *test = epochs->columns[GSVAE_EPOCH_TEST_LOSS];
  gsvae_plot_line_finite((int)epochs->rows, epoch_x, test);
  for (size_t e = 0; e < epochs->rows; e++)
    if (isfinite(test[e])) plpoin(1, epoch_x + e, test + e, 4);
  free(epoch_x);
  if (with_tau) draw_tau(run, colour, r);
}

int gsvae_plot_runs(const gsvae_run *runs, int count, const gsvae_run *tau_runs, int tau_count, const char *path,
                    char *err) {
  plot_ranges r = find_ranges(runs, count, tau_runs, tau_count);
  if (!isfinite(r.y_min) || !isfinite(r.y_max))
    return gsvae_errorf(err, "%s: no finite losses logged yet, nothing to plot", count == 1 ? runs[0].file : "the runs");
  /* The legend goes below the axes, one row per run and per tau schedule: the page grows by a
   * row's height for each. */
  const int legend_row_px = 34, entries = count + tau_count, page_height = 760 + legend_row_px * entries;
  if (gsvae_plot_open(path, 1200, page_height, err)) return -1;
  char **labels = mallocCheck((size_t)entries * sizeof *labels);
  for (int i = 0; i < entries; i++) labels[i] = mallocCheck(LABEL_LEN);
  gsvae_run_labels(runs, count, NULL, labels, LABEL_LEN);
  if (tau_count) {
    char **tau_labels = labels + count;
    gsvae_run_labels(tau_runs, tau_count, "tau.", tau_labels, LABEL_LEN);
    for (int i = 0; i < tau_count; i++) {
      char label[LABEL_LEN];
      snprintf(label, sizeof label, "#gt %s", tau_count > 1 ? tau_labels[i] : "of every run");
      snprintf(tau_labels[i], LABEL_LEN, "%s", label);
    }
  }
  pladv(0);
  double legend_height = (double)(legend_row_px * entries) / page_height;
  plvpor(0.10, 0.89, 0.14 + legend_height, 0.90);
  plcol0(1);
  plwind(0.0, r.x_max, r.y_min, r.y_max);
  plbox("bcnst", 0.0, 0, "bnstv", 0.0, 0);
  pllab("step", "", "");
  plmtex("l", 4.5, 0.5, 0.5, "loss (nats per image)");
  plmtex("t", 2.2, 0.5, 0.5, "solid: relaxed (train)   dashed: unrelaxed (train)   circles: test loss   dotted: #gt");
  plwind(0.0, r.x_max, 0.0, r.tau_max);
  plbox("", 0.0, 0, "cmstv", 0.0, 0);
  plmtex("r", 4.0, 0.5, 0.5, "temperature #gt");
  for (int i = 0; i < count; i++) draw_run(&runs[i], FIRST_RUN_COLOUR + i % RUN_COLOURS, !tau_runs, &r);
  for (int i = 0; i < tau_count; i++) draw_tau(&tau_runs[i], FIRST_RUN_COLOUR + (count + i) % RUN_COLOURS, &r);

  gsvae_plot_legend(entries, (const char *const *)labels, entries, 1, 0.09);
  plend();
  for (int i = 0; i < entries; i++) free(labels[i]);
  free(labels);
  return 0;
}
#else
int gsvae_plot_runs(const gsvae_run *runs, int count, const gsvae_run *tau_runs, int tau_count, const char *path,
                    char *err) {
  return gsvae_plot_open(path, 0, 0, err);
}
#endif
