/* The temperature schedule (see tau_schedule.h for the formulas). */
#include <math.h>
#include "core/tau_schedule.h"

double tau_schedule_value(const gsvae_config *config, long step, long total_steps) {
  long every = config->tau_every > 0 ? config->tau_every : 1;
  double t = (double)((step / every) * every);
  double tau0 = config->tau_init, tau_min = config->tau_min;
  switch (config->tau_schedule) {
  case GSVAE_TAU_EXP: return fmax(tau_min, tau0 * exp(-config->tau_rate * t));
  case GSVAE_TAU_LINEAR: return fmax(tau_min, tau0 - config->tau_rate * t);
  case GSVAE_TAU_COSINE: {
    double progress = total_steps > 0 ? fmin(1.0, t / (double)total_steps) : 1.0;
    return tau_min + (tau0 - tau_min) * 0.5 * (1.0 + cos(M_PI * progress));
  }
  case GSVAE_TAU_CONSTANT: break;
  }
  return tau0;
}
