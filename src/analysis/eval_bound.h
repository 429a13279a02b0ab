/* The unrelaxed -ELBO of a run's parameters on a split and the importance-weighted bound on
 * -log p(x) (eval_bound.c), for `gsvae eval` and `gsvae compare --iw`. */
#pragma once
#include <stdint.h>
#include "analysis/run_read.h"

typedef struct {
  double neg_elbo, bce, kl; /* per image, one posterior sample each, the trainer's test-loss noise */
  double neg_log_px_iw;     /* per image, the importance-weighted bound; NaN without iw */
} gsvae_eval_bounds;

/* Over the first `count` images of `data` (binarized as the run trained), with the run's
 * parameters (run->params set); iw > 0 posterior samples per image for the bound, their noise
 * from `seed`. CPU, one thread of BLAS products as the caller set. */
void gsvae_eval_run(const gsvae_run *run, const gsvae_dataset *data, int count, long iw, uint64_t seed,
                    gsvae_eval_bounds *out);
