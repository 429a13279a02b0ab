/* The curves of runs as one picture (run_plot.c). */
#pragma once
#include "analysis/run_read.h"

/* One picture of the runs' curves: relaxed and unrelaxed training loss and the test loss
 * against the step, tau on a second axis; FILE.png or FILE.svg (PLplot's cairo drivers). tau is
 * drawn for each run in its colour when tau_runs is NULL, else for tau_runs[0 .. tau_count)
 * alone, each in a colour of its own and named by its tau.* keys (one run per tau schedule). */
int gsvae_plot_runs(const gsvae_run *runs, int count, const gsvae_run *tau_runs, int tau_count, const char *path,
                    char *err);
