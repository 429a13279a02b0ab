/* The evaluation behind `gsvae eval` (eval_bound.h): the unrelaxed loss with the trainer's
 * test noise, and the importance-weighted bound -log 1/K sum_k p(x|z_k) p(z_k) / q(z_k|x),
 * z_k ~ q(z|x), on the CPU model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/eval_bound.h"
#include "core/check.h"
#include "core/noise.h"
#include "cpu/model_math.h"
#include "cpu/noise_rows.h"
#include "model/backend.h"

enum { EVAL_BATCH = 100 };

/* log sum_k exp(values[k]) in double, stable for the large negative log-weights of images. */
static double log_sum_exp(const double *values, long count) {
  double peak = -INFINITY, sum = 0.0;
  for (long k = 0; k < count; k++) if (values[k] > peak) peak = values[k];
  for (long k = 0; k < count; k++) sum += exp(values[k] - peak);
  return peak + log(sum);
}

static double softplus(double a) { return a > 0 ? a + log1p(exp(-a)) : log1p(exp(a)); }

/* Importance weights log p(x|z) + log p(z) - log q(z|x) of `iw` posterior samples for each
 * image of a batch; the bound's sum of -log(mean weight) over the batch is returned. */
static double importance_weighted_batch(const gsvae_run *run, cpu_model *model, const float *x, int batch,
                                        int first_index, long iw, uint64_t seed) {
  const gsvae_layout *layout = &run->layout;
  int latents = layout->latents, categories = layout->categories, width = latents * categories, dim = layout->input_dim;
  float *logits = mallocCheck((size_t)batch * width * sizeof(float));
  double *log_q_table = mallocCheck((size_t)batch * width * sizeof(double));
  float *z = mallocCheck((size_t)batch * width * sizeof(float));
  float *gumbel = mallocCheck((size_t)width * sizeof(float));
  float *output = mallocCheck((size_t)batch * dim * sizeof(float));
  double *log_weights = mallocCheck((size_t)batch * iw * sizeof(double));
  double *log_q = mallocCheck((size_t)batch * sizeof(double));
  cpu_model_encode(model, run->params, x, batch, logits);
  for (size_t row = 0; row < (size_t)batch * latents; row++) {  /* log_softmax per latent, in double */
    const float *in = logits + row * categories;
    double *out = log_q_table + row * categories, peak = -INFINITY, sum = 0.0;
    for (int c = 0; c < categories; c++) if (in[c] > peak) peak = in[c];
    for (int c = 0; c < categories; c++) sum += exp(in[c] - peak);
    for (int c = 0; c < categories; c++) out[c] = in[c] - peak - log(sum);
  }
  double log_prior = -latents * log((double)categories);
  for (long k = 0; k < iw; k++) {
    memset(z, 0, (size_t)batch * width * sizeof(float));
    for (int i = 0; i < batch; i++) {
      gsvae_fill_gumbel(gumbel, (uint32_t)width, seed, GSVAE_NOISE_IMPORTANCE, (uint64_t)k, (uint64_t)(first_index + i));
      log_q[i] = 0.0;
      for (int l = 0; l < latents; l++) {  /* Gumbel-max: an exact draw from the categorical q */
        const float *row = logits + (size_t)i * width + l * categories;
        const float *noise = gumbel + l * categories;
        int best = 0;
        for (int c = 1; c < categories; c++) if (row[c] + noise[c] > row[best] + noise[best]) best = c;
        z[(size_t)i * width + l * categories + best] = 1.0f;
        log_q[i] += log_q_table[((size_t)i * latents + l) * categories + best];
      }
    }
    cpu_model_decode(model, run->params, z, batch, output);
    for (int i = 0; i < batch; i++) {
      double log_likelihood = 0.0;
      for (int d = 0; d < dim; d++) {
        double a = output[(size_t)i * dim + d];
        log_likelihood -= softplus(a) - x[(size_t)i * dim + d] * a;
      }
      log_weights[(size_t)i * iw + k] = log_likelihood + log_prior - log_q[i];
    }
  }
  double bound = 0.0;
  for (int i = 0; i < batch; i++) bound -= log_sum_exp(log_weights + (size_t)i * iw, iw) - log((double)iw);
  free(logits);
  free(log_q_table);
  free(z);
  free(gumbel);
  free(output);
  free(log_weights);
  free(log_q);
  return bound;
}

void gsvae_eval_run(const gsvae_run *run, const gsvae_dataset *data, int count, long iw, uint64_t seed,
                    gsvae_eval_bounds *out) {
  int dim = run->layout.input_dim, width = run->layout.latents * run->layout.categories;
  cpu_model *model = cpu_model_create(&run->layout, EVAL_BATCH);
  float *x = mallocCheck((size_t)EVAL_BATCH * dim * sizeof(float));
  float *gumbel = mallocCheck((size_t)EVAL_BATCH * width * sizeof(float));
  double sums[GSVAE_METRIC_SLOTS] = {0}, iw_sum = 0.0;
  for (int start = 0; start < count; start += EVAL_BATCH) {
    int batch = count - start < EVAL_BATCH ? count - start : EVAL_BATCH;
    for (int i = 0; i < batch; i++) {
      gsvae_dataset_row(data, start + i, run->config.data_binarize, run->config.train_seed, 0, x + (size_t)i * dim);
      /* The trainer's test-loss noise, so the -ELBO on the test set is its test_loss. */
      gsvae_fill_gumbel(gumbel + (size_t)i * width, (uint32_t)width, run->config.train_seed, GSVAE_NOISE_EVAL, 0,
                        (uint64_t)(start + i));
    }
    cpu_model_unrelaxed_loss(model, run->params, x, batch, gumbel, sums);
    if (iw) iw_sum += importance_weighted_batch(run, model, x, batch, start, iw, seed);
  }
  double n = count;
  out->neg_elbo = sums[GSVAE_METRIC_RELAXED] / n;
  out->bce = sums[GSVAE_METRIC_BCE] / n;
  out->kl = sums[GSVAE_METRIC_KL] / n;
  out->neg_log_px_iw = iw ? iw_sum / n : NAN;
  cpu_model_free(model);
  free(x);
  free(gumbel);
}
