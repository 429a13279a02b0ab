/* The page every PLplot picture shares (plot_page.h): pngcairo or svgcairo by the file's name,
 * matplotlib's tab10 colours, legends, and lines that skip non-finite points. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "analysis/plot_page.h"
#include "core/check.h"
#ifdef GSVAE_HAVE_PLPLOT
#include <plplot/plplot.h>

enum { FIRST_RUN_COLOUR = GSVAE_PLOT_FIRST_COLOUR, RUN_COLOURS = GSVAE_PLOT_COLOURS };
/* matplotlib's tab10: distinguishable, and familiar to the people reading these plots. */
static const int palette[RUN_COLOURS][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                                            {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                            {188, 189, 34}, {23, 190, 207}};

static const char *device_for(const char *path) {
  const char *dot = strrchr(path, '.');
  if (dot && !strcasecmp(dot, ".png")) return "pngcairo";
  if (dot && !strcasecmp(dot, ".svg")) return "svgcairo";
  return NULL;
}

static bool device_available(const char *device) {
  const char *menus[128], *names[128], **menu_list = menus, **name_list = names;
  int count = 128;
  plgDevs(&menu_list, &name_list, &count);
  for (int i = 0; i < count; i++)
    if (!strcmp(names[i], device)) return true;
  return false;
}

int gsvae_plot_open(const char *path, int width, int height, char *err) {
  const char *device = device_for(path);
  if (!device) return gsvae_errorf(err, "-o %s: expected a .png or .svg file name", path);
  if (!device_available(device))
    return gsvae_errorf(err, "PLplot has no '%s' driver: install plplot-driver-cairo", device);
  plsdev(device);
  plsfnam(path);
  plspage(0.0, 0.0, width, height, 0, 0);
  plscolbg(255, 255, 255);
  plscol0(1, 0, 0, 0);
  for (int i = 0; i < RUN_COLOURS; i++) plscol0(FIRST_RUN_COLOUR + i, palette[i][0], palette[i][1], palette[i][2]);
  plinit();
  return 0;
}

void gsvae_plot_legend(int count, const char *const *labels, int rows, int columns, double offset) {
  int *options = mallocCheck((size_t)count * sizeof(int)), *colours = mallocCheck((size_t)count * sizeof(int));
  int *styles = mallocCheck((size_t)count * sizeof(int));
  double *widths = mallocCheck((size_t)count * sizeof(double)), legend_width, legend_height;
  for (int i = 0; i < count; i++) {
    options[i] = PL_LEGEND_LINE;
    colours[i] = FIRST_RUN_COLOUR + i % RUN_COLOURS;
    styles[i] = 1;
    widths[i] = 2.0;
  }
  pllegend(&legend_width, &legend_height, PL_LEGEND_BACKGROUND, PL_POSITION_BOTTOM | PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT,
           0.0, offset, 0.05, 0, 1, 1, rows, columns, count, options, 1.0, 0.9, 1.6, 0.0, colours, labels, NULL, NULL,
           NULL, NULL, colours, styles, widths, NULL, NULL, NULL, NULL);
  free(options), free(colours), free(styles), free(widths);
}

void gsvae_plot_line_finite(int n, const double *x, const double *y) {
  for (int start = 0; start < n;) {
    while (start < n && !isfinite(y[start])) start++;
    int end = start;
    while (end < n && isfinite(y[end])) end++;
    if (end - start >= 2) plline(end - start, x + start, y + start);
    else if (end - start == 1) plpoin(1, x + start, y + start, 1);
    start = end;
  }
}
#else
int gsvae_plot_open(const char *path, int width, int height, char *err) {
  return gsvae_errorf(err, "%s: this gsvae was built without PLplot (install libplplot-dev and "
                           "plplot-driver-cairo, then rebuild)", path);
}
#endif
