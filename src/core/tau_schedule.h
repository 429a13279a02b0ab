/* The temperature schedule: tau as a pure function of the config and the global step. */
#pragma once
#include "core/config.h"

/* tau at global step `step` of a run of `total_steps`; the step is first rounded down to a
 * multiple of tau.every (tau changes every N steps).
 *   constant: tau.init
 *   exp:      max(tau.min, tau.init * exp(-tau.rate * t))       (Jang et al. 2017)
 *   linear:   max(tau.min, tau.init - tau.rate * t)
 *   cosine:   tau.min + (tau.init - tau.min) * (1 + cos(pi * t / total_steps)) / 2 */
double tau_schedule_value(const gsvae_config *config, long step, long total_steps);
