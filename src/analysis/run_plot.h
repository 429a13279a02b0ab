/* The curves of runs as one picture (run_plot.c). */
#pragma once
#include "analysis/run_read.h"

/* One picture of the runs' curves: relaxed and unrelaxed training loss and the test loss
 * against the step, tau on a second axis; FILE.png or FILE.svg (PLplot's cairo drivers). */
int gsvae_plot_runs(const gsvae_run *runs, int count, const char *path, char *err);
