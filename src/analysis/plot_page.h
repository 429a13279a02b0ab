/* What the PLplot pictures share (plot_page.c): a page opened by file name (.png or .svg,
 * PLplot's cairo drivers), matplotlib's tab10 colours, and lines that skip non-finite points. */
#pragma once

/* Colour map 0 entries FIRST_COLOUR .. FIRST_COLOUR + COLOURS - 1 hold the series colours. */
#define GSVAE_PLOT_FIRST_COLOUR 2
#define GSVAE_PLOT_COLOURS 10

/* Opens a white width x height pixel page writing to path (FILE.png or FILE.svg), black in colour 1;
 * 0, or -1 with a message (a name without .png or .svg, no cairo driver, no PLplot in the build).
 * The caller draws, then calls plend(). */
int gsvae_plot_open(const char *path, int width, int height, char *err);

#ifdef GSVAE_HAVE_PLPLOT
/* plline over each stretch of finite points (PLplot draws NaN as garbage), a lone point as a dot. */
void gsvae_plot_line_finite(int n, const double *x, const double *y);
/* A legend of `count` solid lines in the series colours, rows x columns, below the viewport by
 * `offset` of its height. */
void gsvae_plot_legend(int count, const char *const *labels, int rows, int columns, double offset);
#endif
