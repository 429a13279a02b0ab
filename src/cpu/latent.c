/* The estimators' latent layer on the CPU, the reference for kernels.cu: for each estimator a forward
 * (logits and noise to the decoder's input z) and a backward (dL/dz, or sf's per-sample loss, to
 * dL/dlogits and dL/dlog tau), one latent group at a time. Built in float and in double. Its exp
 * and log go through exp_log_rows.h's arrays (SLEEF's deterministic functions in float), so that
 * they return the same bits on every x86-64, as glibc's FMA and non-FMA expf need not. */
#include <string.h>
#include "cpu/exp_log_rows.h"
#include "cpu/latent.h"

int cpu_argmax_perturbed(const gsvae_real *logits, const gsvae_real *gumbel, int categories) {
  int best = 0;
  gsvae_real best_value = logits[0] + gumbel[0];
  for (int c = 1; c < categories; c++) {
    gsvae_real value = logits[c] + gumbel[c];
    if (value > best_value) best = c, best_value = value;
  }
  return best;
}

/* y = softmax(v / tau) over one group. */
static void softmax_of(const gsvae_real *v, int categories, gsvae_real tau, gsvae_real *y) {
  gsvae_real top = v[0] / tau, sum = 0;
  for (int c = 0; c < categories; c++) {
    y[c] = v[c] / tau;
    top = y[c] > top ? y[c] : top;
  }
  for (int c = 0; c < categories; c++) y[c] -= top;
  cpu_exp_in_place(y, (size_t)categories);
  for (int c = 0; c < categories; c++) sum += y[c];
  for (int c = 0; c < categories; c++) y[c] /= sum;
}

/* Backward of y = softmax(v / tau) with v = logits + a constant: a = J^T dz (dL/d(v/tau)), so
 * dL/dlogits += scale a / tau and dL/dlog tau += -scale sum a v / tau (d(v/tau)/dlog tau = -v/tau). */
static void softmax_backward(const gsvae_real *y, const gsvae_real *v, const gsvae_real *dz, int categories,
                             gsvae_real tau, gsvae_real scale, gsvae_real *grad_logits, gsvae_real *grad_log_tau) {
  gsvae_real dot = 0, tau_sum = 0;
  for (int c = 0; c < categories; c++) dot += y[c] * dz[c];
  for (int c = 0; c < categories; c++) {
    gsvae_real a = y[c] * (dz[c] - dot);
    grad_logits[c] += scale * a / tau;
    tau_sum += a * v[c];
  }
  *grad_log_tau -= scale * tau_sum / tau;
}

static void one_hot(gsvae_real *z, int categories, int hot) {
  memset(z, 0, categories * sizeof(gsvae_real));
  z[hot] = 1;
}

static int sampled(const cpu_latent_group *group, int block) {
  return cpu_argmax_perturbed(group->logits, group->gumbel + block * group->noise_stride, group->categories);
}

static int hot_of(const gsvae_real *z) {
  int hot = 0;
  while (z[hot] != 1) hot++;
  return hot;
}

/* ---- gs and st: y = softmax((logits + g) / tau) (Jang et al. 2017) ---- */

static const gsvae_real *perturbed(const cpu_latent_group *group) {
  for (int c = 0; c < group->categories; c++) group->scratch[c] = group->logits[c] + group->gumbel[c];
  return group->scratch;
}

static void gs_forward(const cpu_latent_group *group) {
  softmax_of(perturbed(group), group->categories, group->tau, group->soft);
  memcpy(group->z, group->soft, group->categories * sizeof(gsvae_real));
}

static void st_forward(const cpu_latent_group *group) {
  softmax_of(perturbed(group), group->categories, group->tau, group->soft);
  one_hot(group->z, group->categories, sampled(group, 0));
}

static void gs_backward(const cpu_latent_group *group, const gsvae_real *dz, gsvae_real *grad_logits,
                        gsvae_real *grad_log_tau) {
  softmax_backward(group->soft, perturbed(group), dz, group->categories, group->tau, 1, grad_logits, grad_log_tau);
}

/* ---- st_softmax: one-hot sample, backward through softmax(logits / tau) (Bengio et al. 2013) ---- */

static void st_softmax_forward(const cpu_latent_group *group) {
  softmax_of(group->logits, group->categories, group->tau, group->soft);
  one_hot(group->z, group->categories, sampled(group, 0));
}

static void st_softmax_backward(const cpu_latent_group *group, const gsvae_real *dz, gsvae_real *grad_logits,
                                gsvae_real *grad_log_tau) {
  softmax_backward(group->soft, group->logits, dz, group->categories, group->tau, 1, grad_logits, grad_log_tau);
}

/* ---- gst: backward through softmax(m2(logits, D) / tau), m2 moving D's logit up to the largest
 * logit and every other one down to at most that minus the gap (Fan et al. 2022, section 4.2) ---- */

static const gsvae_real *gapped(const cpu_latent_group *group) {
  const gsvae_real *l = group->logits;
  int categories = group->categories, hot = hot_of(group->z);
  gsvae_real top = l[0];
  for (int c = 1; c < categories; c++) top = l[c] > top ? l[c] : top;
  gsvae_real ceiling = top - (gsvae_real)group->settings->gap;
  for (int c = 0; c < categories; c++) group->scratch[c] = c == hot ? top : l[c] < ceiling ? l[c] : ceiling;
  return group->scratch;
}

static void gst_forward(const cpu_latent_group *group) {
  one_hot(group->z, group->categories, sampled(group, 0));
  softmax_of(gapped(group), group->categories, group->tau, group->soft);
}

static void gst_backward(const cpu_latent_group *group, const gsvae_real *dz, gsvae_real *grad_logits,
                         gsvae_real *grad_log_tau) {
  softmax_backward(group->soft, gapped(group), dz, group->categories, group->tau, 1, grad_logits, grad_log_tau);
}

/* ---- grmck: the mean over K draws of the Gumbels given D (Paulus et al. 2021): the perturbed
 * logit of D is Gumbel(log Z), X_D = log Z - log E_D; the others are Gumbel(logit) truncated at
 * X_D, X_c = -log(exp(-X_D) + exp(-logit_c) E_c), with E ~ Exp(1) ---- */

/* Into scratch; soft holds each term's larger exponent meanwhile (softmax_of overwrites it next). */
static void conditional_perturbed(const cpu_latent_group *group, int draw, int hot, gsvae_real log_partition) {
  const gsvae_real *l = group->logits, *e = group->exponential + draw * group->noise_stride;
  int categories = group->categories;
  gsvae_real *terms = group->scratch, *high = group->soft;
  memcpy(terms, e, (size_t)categories * sizeof *terms);
  cpu_log_in_place(terms, (size_t)categories); /* log E_c */
  gsvae_real top = log_partition - terms[hot];
  for (int c = 0; c < categories; c++) {
    /* -log(exp(-top) + exp(log E_c - l_c)), as a log-sum-exp of two terms */
    gsvae_real a = -top, b = terms[c] - l[c], low = a > b ? b : a;
    high[c] = a > b ? a : b;
    terms[c] = low - high[c];
  }
  cpu_exp_in_place(terms, (size_t)categories);
  for (int c = 0; c < categories; c++) terms[c] = 1 + terms[c];
  cpu_log_in_place(terms, (size_t)categories);
  for (int c = 0; c < categories; c++) terms[c] = c == hot ? top : -(high[c] + terms[c]);
}

static void grmck_forward(const cpu_latent_group *group) {
  one_hot(group->z, group->categories, sampled(group, 0));
}

/* group->soft is each draw's soft sample in turn: recomputed here rather than kept for K draws. */
static void grmck_backward(const cpu_latent_group *group, const gsvae_real *dz, gsvae_real *grad_logits,
                           gsvae_real *grad_log_tau) {
  const gsvae_real *l = group->logits;
  int categories = group->categories, draws = group->settings->conditional_draws, hot = hot_of(group->z);
  gsvae_real top = l[0], sum = 0, *shifted = group->scratch;
  for (int c = 1; c < categories; c++) top = l[c] > top ? l[c] : top;
  for (int c = 0; c < categories; c++) shifted[c] = l[c] - top;
  cpu_exp_in_place(shifted, (size_t)categories);
  for (int c = 0; c < categories; c++) sum += shifted[c];
  cpu_log_in_place(&sum, 1);
  gsvae_real log_partition = top + sum;
  for (int k = 0; k < draws; k++) {
    conditional_perturbed(group, k, hot, log_partition);
    softmax_of(group->scratch, categories, group->tau, group->soft);
    softmax_backward(group->soft, group->scratch, dz, categories, group->tau, (gsvae_real)1 / draws, grad_logits,
                     grad_log_tau);
  }
}

/* ---- reinmax (Liu et al. 2023, Algorithm 2): with pi0 = softmax(logits) and
 * pi1 = (softmax(logits / tau) + D) / 2, dL/dlogits = 2 J(pi1) dz - J(pi0) dz / 2, J(p) v = p (v - p.v);
 * tau sits under a stop-gradient, so it gets none ---- */

static void reinmax_forward(const cpu_latent_group *group) {
  one_hot(group->z, group->categories, sampled(group, 0));
  softmax_of(group->logits, group->categories, 1, group->soft);
}

static void add_jacobian_product(const gsvae_real *p, const gsvae_real *v, int categories, gsvae_real scale,
                                 gsvae_real *out) {
  gsvae_real dot = 0;
  for (int c = 0; c < categories; c++) dot += p[c] * v[c];
  for (int c = 0; c < categories; c++) out[c] += scale * p[c] * (v[c] - dot);
}

static void reinmax_backward(const cpu_latent_group *group, const gsvae_real *dz, gsvae_real *grad_logits,
                             gsvae_real *grad_log_tau) {
  int categories = group->categories, hot = hot_of(group->z);
  gsvae_real *pi1 = group->scratch;
  softmax_of(group->logits, categories, group->tau, pi1);
  for (int c = 0; c < categories; c++) pi1[c] = (pi1[c] + (c == hot)) / 2;
  add_jacobian_product(pi1, dz, categories, 2, grad_logits);
  add_jacobian_product(group->soft, dz, categories, (gsvae_real)-0.5, grad_logits);
}

/* ---- sf: S samples D_s, dL/dlogits = sum_s weight_s (D_s - softmax(logits)), the gradient of
 * log q(D_s) times (loss_s - baseline_s) / S (Williams 1992); the KL keeps its analytic gradient ---- */

static void sf_forward(const cpu_latent_group *group) {
  for (int s = 0; s < group->settings->decoder_samples; s++)
    one_hot(group->z + s * group->z_stride, group->categories, sampled(group, s));
  softmax_of(group->logits, group->categories, 1, group->soft);
}

static void sf_backward(const cpu_latent_group *group, const gsvae_real *weights, gsvae_real *grad_logits,
                        gsvae_real *grad_log_tau) {
  for (int s = 0; s < group->settings->decoder_samples; s++) {
    const gsvae_real *d = group->z + s * group->z_stride;
    for (int c = 0; c < group->categories; c++) grad_logits[c] += weights[s] * (d[c] - group->soft[c]);
  }
}

/* Each estimator of the table (core/estimator_table.h): its forward and backward on the CPU. */
static const cpu_estimator estimators[GSVAE_ESTIMATOR_COUNT] = {
    [GSVAE_ESTIMATOR_GS] = {gs_forward, gs_backward},
    [GSVAE_ESTIMATOR_ST] = {st_forward, gs_backward},
    [GSVAE_ESTIMATOR_ST_SOFTMAX] = {st_softmax_forward, st_softmax_backward},
    [GSVAE_ESTIMATOR_GST] = {gst_forward, gst_backward},
    [GSVAE_ESTIMATOR_GRMCK] = {grmck_forward, grmck_backward},
    [GSVAE_ESTIMATOR_REINMAX] = {reinmax_forward, reinmax_backward},
    [GSVAE_ESTIMATOR_SF] = {sf_forward, sf_backward},
};

const cpu_estimator *cpu_estimator_of(gsvae_estimator kind) { return &estimators[kind]; }

/* ---- the Gumbel-Softmax sample over rows of groups, for the tests ---- */

void cpu_latent_sample(const gsvae_real *logits, const gsvae_real *gumbel, int groups, int categories, gsvae_real tau,
                       gsvae_real *soft, gsvae_real *one_hot_out) {
  for (int g = 0; g < groups; g++) {
    size_t offset = (size_t)g * categories;
    gsvae_real *y = soft + offset;
    for (int c = 0; c < categories; c++) y[c] = logits[offset + c] + gumbel[offset + c];
    softmax_of(y, categories, tau, y);
    if (one_hot_out) one_hot(one_hot_out + offset, categories, cpu_argmax_perturbed(logits + offset, gumbel + offset, categories));
  }
}

void cpu_latent_sample_backward(const gsvae_real *soft, const gsvae_real *grad_sample, int groups, int categories,
                                gsvae_real tau, gsvae_real *grad_logits) {
  for (int g = 0; g < groups; g++) {
    const gsvae_real *y = soft + (size_t)g * categories, *dy = grad_sample + (size_t)g * categories;
    gsvae_real *dl = grad_logits + (size_t)g * categories, dot = 0;
    for (int c = 0; c < categories; c++) dot += y[c] * dy[c];
    for (int c = 0; c < categories; c++) dl[c] += y[c] * (dy[c] - dot) / tau;
  }
}
