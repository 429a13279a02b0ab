/* Adam's and RAdam's per-step scalars, each expression in the order and precision (double) of
 * PyTorch's single-tensor code (torch/optim/adam.py, radam.py), so that they round alike. */
#include <math.h>
#include "model/optimizer_step.h"

gsvae_optimizer_step gsvae_optimizer_step_at(const gsvae_config *config, long t) {
  double step = (double)t, beta1 = config->train_beta1, beta2 = config->train_beta2;
  gsvae_optimizer_step s = {.rule = GSVAE_UPDATE_ADAM, .lr = config->train_lr, .beta1 = beta1, .beta2 = beta2,
                            .eps = config->train_eps};
  s.bias1 = 1 - pow(beta1, step);
  double bias2 = 1 - pow(beta2, step);
  s.bias2_sqrt = sqrt(bias2);
  s.step_size = s.lr / s.bias1;
  if (config->train_optimizer == GSVAE_OPTIMIZER_ADAM) return s;
  /* the length of the approximated simple moving average, and its limit */
  double rho_inf = 2 / (1 - beta2) - 1;
  double rho_t = rho_inf - 2 * step * pow(beta2, step) / bias2;
  if (rho_t > 5.0) {
    s.rule = GSVAE_UPDATE_RADAM_RECTIFIED;
    s.rect = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
  } else {
    s.rule = GSVAE_UPDATE_RADAM_MOMENTUM;
  }
  return s;
}
