/* The optimizer's scalars for one step, computed in double as torch.optim.Adam and
 * torch.optim.RAdam compute them in Python, so that the CPU loop (cpu_optimizer_update) and the
 * CUDA kernel round the same values. Both optimizers keep the same state: the step count (the
 * trainer's step), exp_avg and exp_avg_sq. */
#pragma once
#include "core/config.h"

typedef enum {
  GSVAE_UPDATE_ADAM,            /* p -= step_size * (m / (sqrt(v) / bias2_sqrt + eps)) */
  GSVAE_UPDATE_RADAM_MOMENTUM,  /* rho_t <= 5: p -= (m / bias1) * lr */
  GSVAE_UPDATE_RADAM_RECTIFIED  /* p -= (m / bias1) * lr * ((1 / (sqrt(v) + eps)) * bias2_sqrt) * rect */
} gsvae_update_rule;

typedef struct {
  gsvae_update_rule rule;
  double lr, beta1, beta2, eps;
  double bias1;       /* 1 - beta1^t */
  double bias2_sqrt;  /* sqrt(1 - beta2^t) */
  double step_size;   /* Adam: lr / bias1 */
  double rect;        /* RAdam, rectified: the variance rectification r_t; else 0 */
} gsvae_optimizer_step;

/* The scalars of step t (1-based: the trainer's global step + 1) under config's optimizer. */
gsvae_optimizer_step gsvae_optimizer_step_at(const gsvae_config *config, long t);
