/* The loss sums of training steps, in one form everywhere. A step's per-sample sums ride as
 * GSVAE_METRIC_SLOTS floats at the end of the gradient buffer, so that one reduction carries both;
 * the backends add the finite steps' slots into a gsvae_loss_sums, and the loop's log intervals
 * and epochs, and checkpoints, carry the same struct. */
#pragma once
#include <math.h>
#include "core/host_device.h"

enum {
  GSVAE_METRIC_RELAXED,        /* sum over samples of the relaxed loss (BCE + KL) */
  GSVAE_METRIC_BCE,            /* ... of its BCE part */
  GSVAE_METRIC_KL,             /* ... of KL(q || uniform) */
  GSVAE_METRIC_UNRELAXED,      /* ... of the unrelaxed loss (0 when train.unrelaxed is off) */
  GSVAE_METRIC_SAMPLES,        /* samples counted */
  GSVAE_METRIC_SLOTS
};

typedef struct {
  double sum[GSVAE_METRIC_SLOTS]; /* GSVAE_METRIC_*, over the finite steps */
  long long steps;                /* steps taken, skipped ones included */
  long long skipped;              /* steps whose loss or gradient was not finite (update skipped) */
} gsvae_loss_sums;

/* Adds one step whose ranks agreed on agreed[0] (non-zero: a rank saw a non-finite value, the
 * step is skipped) and its slots agreed[1 .. GSVAE_METRIC_SLOTS]; returns whether it was finite.
 * The CPU backend and the CUDA kernel both call it. */
GSVAE_HD static inline int gsvae_loss_sums_add_step(gsvae_loss_sums *sums, const float *agreed) {
  sums->steps++;
  if (agreed[0] != 0.0f) {
    sums->skipped++;
    return 0;
  }
  for (int s = 0; s < GSVAE_METRIC_SLOTS; s++) sums->sum[s] += agreed[1 + s];
  return 1;
}

static inline void gsvae_loss_sums_add(gsvae_loss_sums *sums, const gsvae_loss_sums *more) {
  for (int s = 0; s < GSVAE_METRIC_SLOTS; s++) sums->sum[s] += more->sum[s];
  sums->steps += more->steps;
  sums->skipped += more->skipped;
}

/* The mean per sample of slot s (NaN before any sample). */
static inline double gsvae_loss_sums_mean(const gsvae_loss_sums *sums, int slot) {
  double samples = sums->sum[GSVAE_METRIC_SAMPLES];
  return samples > 0 ? sums->sum[slot] / samples : NAN;
}
