/* `gsvae estimators -o`: three panels over tau (log scale past a decade) of the estimators' encoder
 * gradients against the unrelaxed objective's (the decoder's is the same for every estimator that
 * decodes a one-hot sample, and would hide their differences): relative bias, relative standard
 * deviation, and cosine; one colour per estimator, a legend below. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "analysis/estimators_plot.h"
#include "analysis/plot_page.h"
#ifdef GSVAE_HAVE_PLPLOT
#include <plplot/plplot.h>

enum { PANELS = 3 };

static double panel_value(const estimator_measure *m, int panel) {
  return panel == 0 ? m->bias[ESTIMATOR_VIEW_ENCODER] : panel == 1 ? m->sd[ESTIMATOR_VIEW_ENCODER]
                    : m->cosine[ESTIMATOR_VIEW_ENCODER];
}

/* The distinct labels in order of first appearance. */
static int distinct_labels(const estimator_measure *measures, int count, const char **labels) {
  int distinct = 0;
  for (int i = 0; i < count; i++) {
    int j = 0;
    while (j < distinct && strcmp(labels[j], measures[i].label)) j++;
    if (j == distinct) labels[distinct++] = measures[i].label;
  }
  return distinct;
}

int gsvae_plot_estimators(const estimator_measure *measures, int count, const char *title, const char *path,
                          char *err) {
  const char **labels = mallocCheck((size_t)count * sizeof *labels);
  int series = distinct_labels(measures, count, labels);
  double tau_low = INFINITY, tau_high = -INFINITY;
  for (int i = 0; i < count; i++) tau_low = fmin(tau_low, measures[i].tau), tau_high = fmax(tau_high, measures[i].tau);
  /* log10 tau past a decade (PLplot labels only the decades), else tau */
  bool logarithmic = tau_high / tau_low > 10;
  double x_low = logarithmic ? log10(tau_low) : tau_low, x_high = logarithmic ? log10(tau_high) : tau_high;
  double x_margin = x_high > x_low ? 0.05 * (x_high - x_low) : 0.5 * fabs(x_low) + 0.1;
  x_low -= x_margin, x_high += x_margin;
  const int legend_rows = (series + 3) / 4, page_height = 600 + 30 * legend_rows;
  if (gsvae_plot_open(path, 1500, page_height, err)) {
    free(labels);
    return -1;
  }
  const char *names[PANELS] = {"encoder: relative bias |E g - g*| / |g*|", "encoder: relative sd",
                               "encoder: cosine with g*"};
  double *x = mallocCheck((size_t)count * sizeof(double)), *y = mallocCheck((size_t)count * sizeof(double));
  double bottom = 0.2 + 0.05 * legend_rows;
  pladv(0);
  for (int panel = 0; panel < PANELS; panel++) {
    double y_low = panel == 2 ? INFINITY : 0, y_high = -INFINITY;
    for (int i = 0; i < count; i++) {
      double value = panel_value(&measures[i], panel);
      if (isfinite(value)) y_low = fmin(y_low, value), y_high = fmax(y_high, value);
    }
    if (!isfinite(y_high)) y_low = 0, y_high = 1;
    double margin = 0.06 * (y_high - y_low) + 1e-6;
    plvpor(0.06 + panel * 0.325, 0.06 + panel * 0.325 + 0.26, bottom, 0.84);
    plcol0(1);
    plwind(x_low, x_high, y_low - (panel == 2 ? margin : 0), y_high + margin);
    plbox(logarithmic ? "bcnstl" : "bcnst", 0.0, 0, "bcnstv", 0.0, 0);
    pllab("temperature #gt", "", names[panel]);
    for (int s = 0; s < series; s++) {
      int n = 0;
      for (int i = 0; i < count; i++)
        if (!strcmp(measures[i].label, labels[s])) x[n] = logarithmic ? log10(measures[i].tau) : measures[i].tau, y[n++] = panel_value(&measures[i], panel);
      plcol0(GSVAE_PLOT_FIRST_COLOUR + s % GSVAE_PLOT_COLOURS);
      plwidth(1.8);
      gsvae_plot_line_finite(n, x, y);
      plpoin(n, x, y, 17);
    }
  }
  plcol0(1);
  plvpor(0.06, 0.94, bottom, 0.84);
  plwind(0, 1, 0, 1);
  plmtex("t", 4.0, 0.5, 0.5, title);
  gsvae_plot_legend(series, labels, legend_rows, series < 4 ? series : 4, 0.24);
  plend();
  free(x), free(y), free(labels);
  return 0;
}
#else
int gsvae_plot_estimators(const estimator_measure *measures, int count, const char *title, const char *path,
                          char *err) {
  return gsvae_plot_open(path, 0, 0, err);
}
#endif
