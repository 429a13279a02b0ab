/* The CUDA backend's fused kernels, launched from C on a stream. Everything that changes from
 * step to step (noise counter, data position, tau, the optimizer's scalars of step t, the
 * gradient divisor) is read from a small device struct, so a captured step replays unchanged. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <cuda_runtime.h>
#include "model/loss_sums.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  unsigned long long step;        /* the noise counter: the global step (0 when evaluating) */
  unsigned long long sample_base; /* noise sample index of local row 0: its place in the epoch order */
  long long data_offset;          /* local row 0's position in the epoch order (or test index) */
  int update_rule;                /* gsvae_update_rule of step t = step + 1 (model/optimizer_step.h) */
  float step_size;                /* Adam: lr / (1 - beta1^t), computed in double */
  float bias1;                    /* RAdam: 1 - beta1^t */
  float bias2_sqrt;               /* sqrt(1 - beta2^t) */
  float rect;                     /* RAdam, rectified: r_t */
  float tau;
  float grad_divisor;             /* the global batch's sample count */
} gsvae_cuda_step;

/* The optimizer's constants in float, each rounded from its double as cpu_optimizer_update does. */
typedef struct {
  float beta1, beta2, one_minus_beta1, one_minus_beta2, eps, lr;
} gsvae_cuda_optimizer;

/* The estimator as the latent kernels need it (gsvae_estimator_settings, passed by value). */
typedef struct {
  int kind;                       /* gsvae_estimator */
  int conditional_draws;          /* grmck's K */
  float gap;                      /* gst's kappa */
  int decoder_samples;            /* sf's S one-hot samples decoded per input, else 1 */
  int sf_leave_one_out;           /* sf's baseline: 1 leave-one-out, 0 the moving average */
} gsvae_cuda_estimator;

/* Summed over the finite steps since the last read; bad_streak runs across reads. */
typedef struct {
  gsvae_loss_sums sums;
  long long bad_streak;
} gsvae_cuda_metrics;

/* Whether this binary has code the current GPU runs; the versions are its cubin's and PTX's
 * (e.g. 90 for sm_90). cudaErrorNoKernelImageForDevice when it has none. */
cudaError_t gsvae_kernel_image(int *binary_version, int *ptx_version);
void gsvae_launch_set_step(gsvae_cuda_step *device_step, gsvae_cuda_step value, cudaStream_t stream);
/* x[r] = row order[data_offset + r] (or data_offset + r when order is NULL) as floats in [0,1],
 * binarized from (seed, BINARIZE, step, dataset index, pixel) when dynamic. */
void gsvae_launch_gather(float *x, const uint8_t *pixels, const uint32_t *order, const gsvae_cuda_step *step,
                         int rows, int dim, int dynamic_binarize, uint64_t seed, cudaStream_t stream);
/* y[r, c] += bias[c], then ReLU when relu. */
void gsvae_launch_bias_act(float *y, const float *bias, int rows, int cols, int relu, cudaStream_t stream);
/* sums[c] = sum over r of matrix[r, c] (rows x columns, row-major), in a fixed order: a bias gradient. */
void gsvae_launch_column_sums(float *sums, const float *matrix, int rows, int columns, cudaStream_t stream);
/* d *= (activation > 0): ReLU's backward from its output. */
void gsvae_launch_relu_backward(float *d, const float *activation, size_t count, cudaStream_t stream);
/* step->tau = exp(*log_tau): tau.learn's temperature, read from the parameters on the device. */
void gsvae_launch_learned_tau(gsvae_cuda_step *step, const float *log_tau, cudaStream_t stream);
/* Per (row, latent group) of K logits: KL(q || uniform) into kl_groups and its gradient into dkl;
 * when relaxed_purpose != 0 the estimator's forward: the soft sample it keeps in y and the decoder
 * input z (y for gs, else the one-hot of argmax(logits + g); sf: decoder_samples one-hot blocks of
 * rows x latents x categories, block s from Gumbel block s); when choice != NULL the argmax of
 * logits + fresh noise of unrelaxed_purpose. Sample index of row r: sample_base + r. */
void gsvae_launch_latent_forward(const float *logits, float *y, float *z, float *dkl, float *kl_groups, int *choice,
                                 const gsvae_cuda_step *step, int rows, int latents, int categories, uint64_t seed,
                                 int relaxed_purpose, int unrelaxed_purpose, gsvae_cuda_estimator estimator,
                                 cudaStream_t stream);
/* dlogits = the estimator's backward of dz (from y, z and, for grmck, the conditional draws of
 * (seed, GUMBEL_CONDITIONAL, step, sample)), plus dkl, masked by the logits' ReLU; when tau_terms
 * != NULL (tau.learn) also each group's derivative in log tau, one per (row, group). Not for sf. */
void gsvae_launch_latent_backward(float *dlogits, float *tau_terms, const float *dz, const float *y, const float *z,
                                  const float *dkl, const float *logits, int logits_relu, const gsvae_cuda_step *step,
                                  int rows, int latents, int categories, uint64_t seed,
                                  gsvae_cuda_estimator estimator, cudaStream_t stream);
/* sf's backward (latent.c): dlogits = dkl + sum over the S samples D_s of weight_s (D_s -
 * y), weight_s = (loss_s - baseline_s) / S from the decoded rows' losses row_loss[s rows + r] and
 * the leave-one-out mean or the moving average in sf_state (sum, weight); masked by the logits' ReLU. */
void gsvae_launch_sf_backward(float *dlogits, const float *y, const float *z, const float *dkl, const float *logits,
                              int logits_relu, const float *row_loss, const float *sf_state, int rows, int latents,
                              int categories, gsvae_cuda_estimator estimator, cudaStream_t stream);
/* *out = the sum of values[0..count), one block in a fixed order. */
void gsvae_launch_sum(float *out, const float *values, int count, cudaStream_t stream);
/* Per row r of a: bce_rows[r] = sum over pixels of softplus(a) - x a against x's row r % x_rows
 * (sf decodes several samples of each input); when da != NULL also da = (sigmoid(a) - x) / samples
 * (the loss is the mean over an input's samples). One block per row, fixed reduction order. */
void gsvae_launch_bce(const float *a, const float *x, float *da, float *bce_rows, int rows, int x_rows, int samples,
                      int dim, cudaStream_t stream);
/* A linear layer fed one-hot latents: out[r, o] = bias[o] + sum_l W[o, l*K + choice[r, l]]. */
void gsvae_launch_onehot_linear(float *out, const float *weight, const float *bias, const int *choice, int rows,
                                int out_features, int latents, int categories, int relu, cudaStream_t stream);
/* slots[GSVAE_METRIC_*] = the batch's sums (RELAXED = bce + kl, BCE, KL, UNRELAXED = bce_unrelaxed
 * + kl or 0 when bce_unrelaxed is NULL, SAMPLES = rows), an input's bce the mean of its `samples`
 * rows of bce_rows (row s rows + r). One block, fixed order. */
void gsvae_launch_step_metrics(float *slots, const float *bce_rows, const float *kl_groups,
                               const float *bce_unrelaxed_rows, int rows, int samples, int latents,
                               cudaStream_t stream);
/* *flag = 1 when any of values[0..count) is NaN or infinite (left as it is otherwise). */
void gsvae_launch_check_finite(const float *values, size_t count, float *flag, cudaStream_t stream);
/* out[i] = ((sources[i] + sources[stride + i]) + sources[2 stride + i]) + ... over `count` sources,
 * i < length: the fold in a fixed order; out may be the first source. */
void gsvae_launch_fold(float *out, const float *sources, size_t stride, int count, size_t length,
                       cudaStream_t stream);
/* PyTorch's Adam or RAdam (step->update_rule) over `count` elements of the flat buffers,
 * operation for operation as cpu_optimizer_update, gradients divided by step->grad_divisor; does
 * nothing when agreed[0] != 0 (a rank saw a non-finite value). */
void gsvae_launch_optimizer(float *params, float *exp_avg, float *exp_avg_sq, const float *grads, size_t count,
                            const float *agreed, const gsvae_cuda_step *step, gsvae_cuda_optimizer optimizer,
                            cudaStream_t stream);
/* sf's moving-average baseline after a finite step (agreed[0] == 0): gsvae_sf_baseline_update of
 * state with the step's mean bce, agreed[1 + BCE] / agreed[1 + SAMPLES], as cpu_backend.c's update. */
void gsvae_launch_sf_baseline_update(float *state, const float *agreed, double decay, cudaStream_t stream);
/* Adds a finite step's metric slots (agreed[1..]) to the sums, or counts it skipped (agreed[0] != 0). */
void gsvae_launch_accumulate_metrics(gsvae_cuda_metrics *metrics, const float *agreed, cudaStream_t stream);
/* Checks the last launch (launch configuration errors), naming the kernel. */
void gsvae_kernel_check(const char *kernel, const char *file, int line);

#ifdef __cplusplus
}
#endif
