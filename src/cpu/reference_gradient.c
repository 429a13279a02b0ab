/* The exact and the local-expectation gradients of the unrelaxed objective (reference_gradient.h),
 * from the decoder and encoder halves that model_math.c exposes. Probabilities and the sums over
 * configurations in double; the model's products in gsvae_real. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "cpu/latent.h"
#include "cpu/reference_gradient.h"

/* Enumeration decodes this many configurations per product at most, to bound the workspace. */
enum { CONFIGURATION_BLOCK = 4096 };

struct cpu_reference {
  gsvae_layout layout;
  cpu_model *model;
  int max_batch;
  long configurations;       /* K^L when exact, else 0 */
  int rows;                  /* rows of z, x_rows, weight and row_loss */
  gsvae_real *logits;        /* max_batch x L*K */
  double *q;                 /* max_batch x L*K: softmax of the logits per latent */
  int *picks;                /* max_batch x L: local's sample */
  gsvae_real *grad_logits;   /* max_batch x L*K */
  gsvae_real *z, *x_rows;    /* rows x L*K and rows x D: the decoded configurations and their inputs */
  gsvae_real *weight, *row_loss;
  double *partial;           /* L*K: exact's sums of q(z) f(z) over the configurations with z_j = c */
};

long cpu_reference_configurations(const gsvae_layout *layout) {
  long count = 1;
  for (int j = 0; j < layout->latents; j++) {
    count *= layout->categories;
    if (count > GSVAE_REFERENCE_MAX_CONFIGURATIONS) return 0;
  }
  return count;
}

cpu_reference *cpu_reference_create(const gsvae_layout *layout, int max_batch, bool exact) {
  cpu_reference *reference = callocCheck(1, sizeof *reference);
  size_t width = (size_t)layout->latents * layout->categories;
  reference->layout = *layout;
  reference->max_batch = max_batch;
  reference->configurations = exact ? cpu_reference_configurations(layout) : 0;
  if (exact && !reference->configurations)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "cpu_reference: %d^%d latent configurations are more than %d to enumerate",
                layout->categories, layout->latents, GSVAE_REFERENCE_MAX_CONFIGURATIONS);
  /* exact decodes a block of one input's configurations at a time; local one latent's K changes
   * for the batch */
  long exact_rows = reference->configurations < CONFIGURATION_BLOCK ? reference->configurations : CONFIGURATION_BLOCK;
  reference->rows = exact ? (int)exact_rows : max_batch * layout->categories;
  reference->model = cpu_model_create(layout, max_batch);
  reference->logits = mallocCheck(max_batch * width * sizeof(gsvae_real));
  reference->q = mallocCheck(max_batch * width * sizeof(double));
  reference->picks = mallocCheck((size_t)max_batch * layout->latents * sizeof(int));
  reference->grad_logits = mallocCheck(max_batch * width * sizeof(gsvae_real));
  reference->z = mallocCheck(reference->rows * width * sizeof(gsvae_real));
  reference->x_rows = mallocCheck((size_t)reference->rows * layout->input_dim * sizeof(gsvae_real));
  reference->weight = mallocCheck(reference->rows * sizeof(gsvae_real));
  reference->row_loss = mallocCheck(reference->rows * sizeof(gsvae_real));
  reference->partial = mallocCheck(width * sizeof(double));
  return reference;
}

void cpu_reference_free(cpu_reference *reference) {
  if (!reference) return;
  cpu_model_free(reference->model);
  free(reference->logits);
  free(reference->q);
  free(reference->picks);
  free(reference->grad_logits);
  free(reference->z);
  free(reference->x_rows);
  free(reference->weight);
  free(reference->row_loss);
  free(reference->partial);
  free(reference);
}

/* The encoder's logits and q = softmax per latent, in double. */
static void encode(cpu_reference *reference, const gsvae_real *params, const gsvae_real *x, int batch) {
  if (batch < 1 || batch > reference->max_batch)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "cpu_reference: batch %d outside [1, %d]", batch, reference->max_batch);
  int categories = reference->layout.categories;
  cpu_model_encode(reference->model, params, x, batch, reference->logits);
  for (size_t group = 0; group < (size_t)batch * reference->layout.latents; group++) {
    const gsvae_real *logits = reference->logits + group * categories;
    double *q = reference->q + group * categories, top = logits[0], sum = 0;
    for (int c = 1; c < categories; c++) top = fmax(top, logits[c]);
    for (int c = 0; c < categories; c++) sum += q[c] = exp(logits[c] - top);
    for (int c = 0; c < categories; c++) q[c] /= sum;
  }
}

/* x's row b repeated `count` times into out. */
static void repeat_input(const cpu_reference *reference, const gsvae_real *x, int b, int count, gsvae_real *out) {
  size_t dim = reference->layout.input_dim;
  for (int r = 0; r < count; r++) memcpy(out + r * dim, x + b * dim, dim * sizeof(gsvae_real));
}

/* One latent's K entries of a decoder row set to one-hot(category). */
static void set_category(gsvae_real *group, int categories, int category) {
  memset(group, 0, categories * sizeof(gsvae_real));
  group[category] = 1;
}

double cpu_reference_exact(cpu_reference *reference, const gsvae_real *params, gsvae_real *grads, const gsvae_real *x,
                           int batch) {
  const gsvae_layout *layout = &reference->layout;
  int latents = layout->latents, categories = layout->categories, width = latents * categories;
  long count = reference->configurations;
  if (!count) gsvae_abort(GSVAE_EXIT_RUNTIME, "cpu_reference_exact: the workspace was made without enumeration");
  encode(reference, params, x, batch);
  memset(grads, 0, layout->param_count * sizeof(gsvae_real));
  double objective = 0;
  for (int b = 0; b < batch; b++) {
    const double *q = reference->q + (size_t)b * width;
    double expected = 0;
    memset(reference->partial, 0, width * sizeof(double));
    repeat_input(reference, x, b, reference->rows, reference->x_rows);
    /* configuration n has latent j in category (n / K^j) % K */
    for (long first = 0; first < count; first += reference->rows) {
      int rows = (int)(count - first < reference->rows ? count - first : reference->rows);
      for (int r = 0; r < rows; r++) {
        double probability = 1;
        for (long j = 0, rest = first + r; j < latents; j++, rest /= categories) {
          set_category(reference->z + (size_t)r * width + j * categories, categories, (int)(rest % categories));
          probability *= q[j * categories + rest % categories];
        }
        reference->weight[r] = (gsvae_real)probability;
      }
      cpu_model_decoder_gradient(reference->model, params, grads, reference->z, reference->x_rows, rows,
                                 reference->weight, reference->row_loss);
      /* d E_q[f] / d logit_jc = sum_{z: z_j = c} q(z) f(z) - q_j(c) E_q[f] */
      for (int r = 0; r < rows; r++) {
        double term = (double)reference->weight[r] * reference->row_loss[r];
        expected += term;
        for (long j = 0, rest = first + r; j < latents; j++, rest /= categories)
          reference->partial[j * categories + rest % categories] += term;
      }
    }
    for (int i = 0; i < width; i++)
      reference->grad_logits[(size_t)b * width + i] = (gsvae_real)(reference->partial[i] - q[i] * expected);
    objective += expected;
  }
  return objective + cpu_model_encoder_gradient(reference->model, params, grads, x, batch, reference->grad_logits);
}

double cpu_reference_local(cpu_reference *reference, const gsvae_real *params, gsvae_real *grads, const gsvae_real *x,
                           int batch, const gsvae_real *gumbel) {
  const gsvae_layout *layout = &reference->layout;
  int latents = layout->latents, categories = layout->categories, width = latents * categories;
  int rows = batch * categories;
  encode(reference, params, x, batch);
  memset(grads, 0, layout->param_count * sizeof(gsvae_real));
  /* row b*K + c: input b's sample, latent j (the one being changed) set to c */
  for (int b = 0; b < batch; b++) {
    repeat_input(reference, x, b, categories, reference->x_rows + (size_t)b * categories * layout->input_dim);
    for (int j = 0; j < latents; j++) {
      size_t offset = (size_t)b * width + j * categories;
      int pick = reference->picks[b * latents + j] =
          cpu_argmax_perturbed(reference->logits + offset, gumbel + offset, categories);
      for (int c = 0; c < categories; c++)
        set_category(reference->z + (size_t)(b * categories + c) * width + j * categories, categories, pick);
    }
  }
  double objective = 0;
  for (int j = 0; j < latents; j++) {
    for (int b = 0; b < batch; b++)
      for (int c = 0; c < categories; c++) {
        set_category(reference->z + (size_t)(b * categories + c) * width + j * categories, categories, c);
        reference->weight[b * categories + c] = (gsvae_real)(reference->q[(size_t)b * width + j * categories + c] / latents);
      }
    cpu_model_decoder_gradient(reference->model, params, grads, reference->z, reference->x_rows, rows, reference->weight,
                               reference->row_loss);
    for (int b = 0; b < batch; b++) {
      const double *q = reference->q + (size_t)b * width + j * categories;
      const gsvae_real *loss = reference->row_loss + b * categories;
      double expected = 0;
      for (int c = 0; c < categories; c++) expected += q[c] * loss[c];
      for (int c = 0; c < categories; c++)
        reference->grad_logits[(size_t)b * width + j * categories + c] = (gsvae_real)(q[c] * (loss[c] - expected));
      objective += expected / latents;
      for (int c = 0; c < categories; c++) /* the sample back in latent j before the next one changes */
        set_category(reference->z + (size_t)(b * categories + c) * width + j * categories, categories,
                     reference->picks[b * latents + j]);
    }
  }
  return objective + cpu_model_encoder_gradient(reference->model, params, grads, x, batch, reference->grad_logits);
}
