/* The CUDA backend's kernels: batch gather with binarization, bias+ReLU, the latent layer (each
 * estimator's forward and backward, as src/cpu/latent.c, with tau.learn's log-tau derivative; KL;
 * unrelaxed choice), sigmoid-BCE, the one-hot decoder layer, per-step metrics, the finite check,
 * the optimizer (Adam, RAdam) and sf's moving-average baseline. All reductions run in a fixed
 * order (no float atomics), so a replayed graph reproduces eager launches bit for bit. */
#include <math.h>
#include <stdint.h>
#include "core/noise.h"
extern "C" {
#include "model/loss_sums.h"
#include "model/estimator_settings.h"
#include "model/optimizer_step.h"
}
#include "cuda/cuda_util.h"
#include "cuda/kernels.h"


#define THREADS 256

static unsigned blocks_for(size_t count) { return (unsigned)((count + THREADS - 1) / THREADS); }

extern "C" void gsvae_kernel_check(const char *kernel, const char *file, int line) {
  cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "%s:%d: launching %s failed: %s", file, line, kernel, cudaGetErrorString(status));
}
#define kernelCheck(name) gsvae_kernel_check(name, __FILE__, __LINE__)

/* Sum over the block in a fixed tree order; every thread gets the result. */
__device__ static float block_sum(float value) {
  __shared__ float partial[THREADS];
  partial[threadIdx.x] = value;
  __syncthreads();
  for (int stride = THREADS / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  float total = partial[0];
  __syncthreads();
  return total;
}

/* Draws of one (seed, purpose, step, sample) in index order, one Philox block per 4 draws. */
struct noise_cursor {
  uint64_t seed, step, sample;
  uint32_t purpose, block;
  philox4x32_ctr_t bits;
};

__device__ static noise_cursor noise_open(uint64_t seed, uint32_t purpose, uint64_t step, uint64_t sample) {
  noise_cursor cursor;
  cursor.seed = seed, cursor.purpose = purpose, cursor.step = step, cursor.sample = sample;
  cursor.block = 0xFFFFFFFFu;
  return cursor;
}

__device__ static float noise_uniform(noise_cursor *cursor, uint32_t index) {
  if (index >> 2 != cursor->block) {
    cursor->block = index >> 2;
    cursor->bits = gsvae_random_block(cursor->seed, cursor->purpose, cursor->step, cursor->sample, cursor->block);
  }
  return gsvae_u32_to_uniform(cursor->bits.v[index & 3]);
}

__device__ static float noise_gumbel(noise_cursor *cursor, uint32_t index) {
  return gsvae_uniform_to_gumbel(noise_uniform(cursor, index));
}

__global__ static void set_step_kernel(gsvae_cuda_step *device_step, gsvae_cuda_step value) { *device_step = value; }

extern "C" void gsvae_launch_set_step(gsvae_cuda_step *device_step, gsvae_cuda_step value, cudaStream_t stream) {
  set_step_kernel<<<1, 1, 0, stream>>>(device_step, value);
  kernelCheck("set_step_kernel");
}

/* cudaFuncGetAttributes loads the module for the current GPU: it fails with
 * cudaErrorNoKernelImageForDevice when the binary holds neither machine code for the GPU's
 * architecture nor PTX the driver can compile for it. */
extern "C" cudaError_t gsvae_kernel_image(int *binary_version, int *ptx_version) {
  cudaFuncAttributes attributes;
  cudaError_t status = cudaFuncGetAttributes(&attributes, set_step_kernel);
  if (status != cudaSuccess) {
    cudaGetLastError(); /* reported by the caller with the GPU's name; not sticky */
    return status;
  }
  *binary_version = attributes.binaryVersion;
  *ptx_version = attributes.ptxVersion;
  return cudaSuccess;
}

__global__ static void learned_tau_kernel(gsvae_cuda_step *step, const float *log_tau) { step->tau = expf(*log_tau); }

extern "C" void gsvae_launch_learned_tau(gsvae_cuda_step *step, const float *log_tau, cudaStream_t stream) {
  learned_tau_kernel<<<1, 1, 0, stream>>>(step, log_tau);
  kernelCheck("learned_tau_kernel");
}

/* One thread per 4 pixels of a row: one Philox block serves them all. */
__global__ static void gather_kernel(float *x, const uint8_t *pixels, const uint32_t *order,
                                     const gsvae_cuda_step *step, int rows, int dim, int dynamic, uint64_t seed) {
  int quads = (dim + 3) / 4;
  size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (i >= (size_t)rows * quads) return;
  int row = (int)(i / quads), quad = (int)(i % quads);
  long long position = step->data_offset + row;
  uint32_t index = order ? order[position] : (uint32_t)position;
  const uint8_t *source = pixels + (size_t)index * dim;
  float *out = x + (size_t)row * dim;
  philox4x32_ctr_t bits;
  if (dynamic) bits = gsvae_random_block(seed, GSVAE_NOISE_BINARIZE, step->step, index, (uint32_t)quad);
  for (int lane = 0; lane < 4; lane++) {
    int p = quad * 4 + lane;
    if (p >= dim) break;
    float value = source[p] / 255.0f;
    if (dynamic) value = gsvae_u32_to_uniform(bits.v[lane]) < value ? 1.0f : 0.0f;
    out[p] = value;
  }
}

extern "C" void gsvae_launch_gather(float *x, const uint8_t *pixels, const uint32_t *order, const gsvae_cuda_step *step,
                                    int rows, int dim, int dynamic_binarize, uint64_t seed, cudaStream_t stream) {
  size_t threads = (size_t)rows * ((dim + 3) / 4);
  gather_kernel<<<blocks_for(threads), THREADS, 0, stream>>>(x, pixels, order, step, rows, dim, dynamic_binarize, seed);
  kernelCheck("gather_kernel");
}

__global__ static void bias_act_kernel(float *y, const float *bias, int rows, int cols, int relu) {
  size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (i >= (size_t)rows * cols) return;
  float value = y[i] + bias[i % cols];
  y[i] = relu && value < 0.0f ? 0.0f : value; /* as the CPU: a NaN passes, so the step is skipped */
}

extern "C" void gsvae_launch_bias_act(float *y, const float *bias, int rows, int cols, int relu, cudaStream_t stream) {
  bias_act_kernel<<<blocks_for((size_t)rows * cols), THREADS, 0, stream>>>(y, bias, rows, cols, relu);
  kernelCheck("bias_act_kernel");
}

/* sums[c] = the sum over rows of matrix[r, c] (row-major, rows x columns): 32 columns a block,
 * each column's rows dealt to 32 lanes (r = lane, lane + 32, ...) and the lanes' sums added in lane
 * order: a fixed order, no atomics. In place of cuBLAS's gemv with a ones vector, which Nsight
 * Compute timed at about 11 us a launch at a batch of 100 (tests/reports/gpu_check_h100.md). */
__global__ static void column_sums_kernel(float *sums, const float *matrix, int rows, int columns) {
  __shared__ float lane_sums[32][33];
  int column = blockIdx.x * 32 + threadIdx.x;
  float sum = 0.0f;
  if (column < columns)
    for (int r = threadIdx.y; r < rows; r += 32) sum += matrix[(size_t)r * columns + column];
  lane_sums[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y != 0 || column >= columns) return;
  float total = 0.0f;
  for (int lane = 0; lane < 32; lane++) total += lane_sums[lane][threadIdx.x];
  sums[column] = total;
}

extern "C" void gsvae_launch_column_sums(float *sums, const float *matrix, int rows, int columns, cudaStream_t stream) {
  column_sums_kernel<<<(columns + 31) / 32, dim3(32, 32), 0, stream>>>(sums, matrix, rows, columns);
  kernelCheck("column_sums_kernel");
}

__global__ static void relu_backward_kernel(float *d, const float *activation, size_t count) {
  size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (i < count && !(activation[i] > 0.0f)) d[i] = 0.0f;
}

extern "C" void gsvae_launch_relu_backward(float *d, const float *activation, size_t count, cudaStream_t stream) {
  relu_backward_kernel<<<blocks_for(count), THREADS, 0, stream>>>(d, activation, count);
  kernelCheck("relu_backward_kernel");
}

/* One thread per (row, latent group); y doubles as scratch for the scaled scores. */
__global__ static void latent_forward_kernel(const float *logits, float *y, float *z, float *dkl, float *kl_groups,
                                             int *choice, const gsvae_cuda_step *step, int rows, int latents, int K,
                                             uint64_t seed, int relaxed_purpose, int unrelaxed_purpose,
                                             gsvae_cuda_estimator estimator) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= rows * latents) return;
  int row = i / latents, group = i % latents;
  size_t base = (size_t)row * latents * K + (size_t)group * K;
  uint32_t first = (uint32_t)(group * K); /* noise index of this group's first class */
  const float *l = logits + base;
  uint64_t sample = step->sample_base + row;

  /* KL(q || uniform) = sum q (log q + log K) from log_softmax, its gradient q (log q + log K - KL),
   * operation for operation as model_math.c's kl_group. */
  float top = l[0], exp_sum = 0.0f, kl = 0.0f, log_k = logf((float)K);
  for (int k = 1; k < K; k++) top = l[k] > top ? l[k] : top;
  for (int k = 0; k < K; k++) exp_sum += expf(l[k] - top);
  float log_sum = logf(exp_sum);
  for (int k = 0; k < K; k++) {
    float log_q = l[k] - top - log_sum;
    kl += expf(log_q) * (log_q + log_k);
  }
  kl_groups[i] = kl;
  if (dkl)
    for (int k = 0; k < K; k++) {
      float log_q = l[k] - top - log_sum;
      dkl[base + k] = expf(log_q) * (log_q + log_k - kl);
    }

  if (relaxed_purpose) {
    /* the scores v whose softmax(v / tau) the estimator keeps (latent.c) into y, then softmax */
    int kind = estimator.kind;
    float tau = kind == GSVAE_ESTIMATOR_REINMAX || kind == GSVAE_ESTIMATOR_SF ? 1.0f : step->tau, smax = 0.0f,
          best = 0.0f;
    noise_cursor noise = noise_open(seed, (uint32_t)relaxed_purpose, step->step, sample);
    int hard = 0;
    for (int k = 0; k < K; k++) {
      float perturbed = l[k] + noise_gumbel(&noise, first + k);
      if (k == 0 || perturbed > best) best = perturbed, hard = k;
      y[base + k] = kind == GSVAE_ESTIMATOR_GS || kind == GSVAE_ESTIMATOR_ST ? perturbed : l[k];
    }
    if (kind == GSVAE_ESTIMATOR_GST) /* m2: D's logit up to the largest, the others at most the largest - gap */
      for (int k = 0; k < K; k++) y[base + k] = k == hard ? top : fminf(l[k], top - estimator.gap);
    for (int k = 0; k < K; k++) {
      float scaled = y[base + k] / tau;
      y[base + k] = scaled;
      smax = k == 0 || scaled > smax ? scaled : smax;
    }
    float sum = 0.0f;
    for (int k = 0; k < K; k++) {
      float e = expf(y[base + k] - smax);
      y[base + k] = e;
      sum += e;
    }
    for (int k = 0; k < K; k++) {
      float soft = y[base + k] / sum;
      y[base + k] = soft;
      z[base + k] = kind == GSVAE_ESTIMATOR_GS ? soft : (k == hard ? 1.0f : 0.0f);
    }
    /* sf's further samples: block s of the Gumbels (noise index s * latents * K + e) into z's block s */
    size_t block_stride = (size_t)rows * latents * K;
    for (int sample_block = 1; sample_block < estimator.decoder_samples; sample_block++) {
      uint32_t block_first = (uint32_t)(sample_block * latents * K) + first;
      float block_best = 0.0f;
      int block_hard = 0;
      for (int k = 0; k < K; k++) {
        float perturbed = l[k] + noise_gumbel(&noise, block_first + k);
        if (k == 0 || perturbed > block_best) block_best = perturbed, block_hard = k;
      }
      for (int k = 0; k < K; k++) z[sample_block * block_stride + base + k] = k == block_hard ? 1.0f : 0.0f;
    }
  }
  if (choice) {
    noise_cursor noise = noise_open(seed, (uint32_t)unrelaxed_purpose, step->step, sample);
    float best = 0.0f;
    int hard = 0;
    for (int k = 0; k < K; k++) {
      float perturbed = l[k] + noise_gumbel(&noise, first + k);
      if (k == 0 || perturbed > best) best = perturbed, hard = k;
    }
    choice[i] = hard;
  }
}

extern "C" void gsvae_launch_latent_forward(const float *logits, float *y, float *z, float *dkl, float *kl_groups,
                                            int *choice, const gsvae_cuda_step *step, int rows, int latents,
                                            int categories, uint64_t seed, int relaxed_purpose, int unrelaxed_purpose,
                                            gsvae_cuda_estimator estimator, cudaStream_t stream) {
  latent_forward_kernel<<<blocks_for((size_t)rows * latents), THREADS, 0, stream>>>(
      logits, y, z, dkl, kl_groups, choice, step, rows, latents, categories, seed, relaxed_purpose, unrelaxed_purpose,
      estimator);
  kernelCheck("latent_forward_kernel");
}

/* GR-MCK's draw k of the perturbed logits given D = hot (latent.c's conditional_perturbed). */
__device__ static float conditional_perturbed(const float *l, int c, int hot, float log_partition, noise_cursor *noise,
                                              uint32_t hot_index, uint32_t index) {
  float top = log_partition - logf(-logf(noise_uniform(noise, hot_index)));
  if (c == hot) return top;
  float a = -top, b = logf(-logf(noise_uniform(noise, index))) - l[c];
  float high = a > b ? a : b, low = a > b ? b : a;
  return -(high + logf(1.0f + expf(low - high)));
}

/* dlogits = dkl + the estimator's backward of dz (latent.c), masked by the logits' ReLU:
 * the softmax backward through the kept y at tau (gs, st, st_softmax, gst), its mean over the
 * conditional draws (grmck), or 2 J(pi1) dz - J(pi0) dz / 2 (reinmax). With tau_terms, each
 * softmax backward's derivative in log tau, -sum a v / tau with a = y (dz - y.dz) and v the scores
 * whose softmax(v / tau) y is (softmax_backward in latent.c), per (row, group). */
__global__ static void latent_backward_kernel(float *dlogits, float *tau_terms, const float *dz, const float *y,
                                              const float *z, const float *dkl, const float *logits, int logits_relu,
                                              const gsvae_cuda_step *step, int rows, int latents, int K,
                                              uint64_t seed, gsvae_cuda_estimator estimator) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= rows * latents) return;
  size_t base = (size_t)i * K;
  const float *l = logits + base, *d = dz + base;
  float tau = step->tau, dot = 0.0f, tau_term = 0.0f;
  int hot = 0, row = i / latents, group = i % latents;
  while (z[base + hot] != 1.0f && hot < K - 1) hot++;
  if (estimator.kind == GSVAE_ESTIMATOR_GRMCK) {
    int width = latents * K;
    noise_cursor noise = noise_open(seed, GSVAE_NOISE_GUMBEL_CONDITIONAL, step->step, step->sample_base + row);
    float top = l[0], sum = 0.0f;
    for (int k = 1; k < K; k++) top = l[k] > top ? l[k] : top;
    for (int k = 0; k < K; k++) sum += expf(l[k] - top);
    float log_partition = top + logf(sum);
    float scale = 1.0f / estimator.conditional_draws;
    for (int k = 0; k < K; k++) dlogits[base + k] = 0.0f;
    for (int draw = 0; draw < estimator.conditional_draws; draw++) {
      uint32_t first = (uint32_t)(draw * width + group * K);
      float smax = 0.0f, total = 0.0f, dot_draw = 0.0f, tau_sum = 0.0f;
      for (int k = 0; k < K; k++) {
        float scaled = conditional_perturbed(l, k, hot, log_partition, &noise, first + hot, first + k) / tau;
        smax = k == 0 || scaled > smax ? scaled : smax;
      }
      for (int k = 0; k < K; k++)
        total += expf(conditional_perturbed(l, k, hot, log_partition, &noise, first + hot, first + k) / tau - smax);
      for (int k = 0; k < K; k++) {
        float soft = expf(conditional_perturbed(l, k, hot, log_partition, &noise, first + hot, first + k) / tau - smax) / total;
        dot_draw += soft * d[k];
      }
      for (int k = 0; k < K; k++) {
        float v = conditional_perturbed(l, k, hot, log_partition, &noise, first + hot, first + k);
        float a = expf(v / tau - smax) / total * (d[k] - dot_draw);
        dlogits[base + k] += scale * a / tau;
        tau_sum += a * v;
      }
      tau_term -= scale * tau_sum / tau;
    }
    for (int k = 0; k < K; k++) {
      float value = dlogits[base + k] + dkl[base + k];
      dlogits[base + k] = logits_relu && !(l[k] > 0.0f) ? 0.0f : value;
    }
    if (tau_terms) tau_terms[i] = tau_term;
    return;
  }
  if (estimator.kind == GSVAE_ESTIMATOR_REINMAX) { /* y holds pi0 = softmax(logits); tau.learn refuses reinmax */
    float top = l[0] / tau, sum = 0.0f, dot1 = 0.0f;
    for (int k = 1; k < K; k++) top = l[k] / tau > top ? l[k] / tau : top;
    for (int k = 0; k < K; k++) sum += expf(l[k] / tau - top);
    for (int k = 0; k < K; k++) {
      dot += y[base + k] * d[k];
      dot1 += (expf(l[k] / tau - top) / sum + (k == hot)) / 2 * d[k];
    }
    for (int k = 0; k < K; k++) {
      float pi1 = (expf(l[k] / tau - top) / sum + (k == hot)) / 2;
      float value = 2 * pi1 * (d[k] - dot1) + -0.5f * y[base + k] * (d[k] - dot) + dkl[base + k];
      dlogits[base + k] = logits_relu && !(l[k] > 0.0f) ? 0.0f : value;
    }
    return;
  }
  for (int k = 0; k < K; k++) dot += y[base + k] * d[k];
  for (int k = 0; k < K; k++) {
    float value = y[base + k] * (d[k] - dot) / tau + dkl[base + k];
    dlogits[base + k] = logits_relu && !(l[k] > 0.0f) ? 0.0f : value;
  }
  if (!tau_terms) return;
  /* the scores v: logits + the relaxed Gumbels (gs, st), the logits (st_softmax), or gst's m2 */
  noise_cursor noise = noise_open(seed, GSVAE_NOISE_GUMBEL, step->step, step->sample_base + row);
  float top = l[0], tau_sum = 0.0f;
  for (int k = 1; k < K; k++) top = l[k] > top ? l[k] : top;
  for (int k = 0; k < K; k++) {
    float v = estimator.kind == GSVAE_ESTIMATOR_GST          ? (k == hot ? top : fminf(l[k], top - estimator.gap))
              : estimator.kind == GSVAE_ESTIMATOR_ST_SOFTMAX ? l[k]
                                                             : l[k] + noise_gumbel(&noise, (uint32_t)(group * K + k));
    tau_sum += y[base + k] * (d[k] - dot) * v;
  }
  tau_terms[i] = -(tau_sum / tau);
}

extern "C" void gsvae_launch_latent_backward(float *dlogits, float *tau_terms, const float *dz, const float *y,
                                             const float *z, const float *dkl, const float *logits, int logits_relu,
                                             const gsvae_cuda_step *step, int rows, int latents, int categories,
                                             uint64_t seed, gsvae_cuda_estimator estimator, cudaStream_t stream) {
  latent_backward_kernel<<<blocks_for((size_t)rows * latents), THREADS, 0, stream>>>(
      dlogits, tau_terms, dz, y, z, dkl, logits, logits_relu, step, rows, latents, categories, seed, estimator);
  kernelCheck("latent_backward_kernel");
}

/* One thread per (row, group); the weights are recomputed per group, in model_math.c's sf_weights
 * order, so that every group of an input sees the same numbers. */
__global__ static void sf_backward_kernel(float *dlogits, const float *y, const float *z, const float *dkl,
                                          const float *logits, int logits_relu, const float *row_loss,
                                          const float *sf_state, int rows, int latents, int K,
                                          gsvae_cuda_estimator estimator) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= rows * latents) return;
  int row = i / latents, samples = estimator.decoder_samples;
  size_t base = (size_t)i * K, block_stride = (size_t)rows * latents * K;
  float total = 0.0f, moving = 0.0f;
  for (int s = 0; s < samples; s++) total += row_loss[(size_t)s * rows + row];
  if (!estimator.sf_leave_one_out) moving = sf_state[1] > 0.0f ? sf_state[0] / sf_state[1] : 0.0f;
  for (int k = 0; k < K; k++) dlogits[base + k] = dkl[base + k];
  for (int s = 0; s < samples; s++) {
    float own = row_loss[(size_t)s * rows + row];
    float baseline = estimator.sf_leave_one_out ? (total - own) / (float)(samples - 1) : moving;
    float weight = (own - baseline) / (float)samples;
    for (int k = 0; k < K; k++) dlogits[base + k] += weight * (z[s * block_stride + base + k] - y[base + k]);
  }
  for (int k = 0; k < K; k++)
    if (logits_relu && !(logits[base + k] > 0.0f)) dlogits[base + k] = 0.0f;
}

extern "C" void gsvae_launch_sf_backward(float *dlogits, const float *y, const float *z, const float *dkl,
                                         const float *logits, int logits_relu, const float *row_loss,
                                         const float *sf_state, int rows, int latents, int categories,
                                         gsvae_cuda_estimator estimator, cudaStream_t stream) {
  sf_backward_kernel<<<blocks_for((size_t)rows * latents), THREADS, 0, stream>>>(
      dlogits, y, z, dkl, logits, logits_relu, row_loss, sf_state, rows, latents, categories, estimator);
  kernelCheck("sf_backward_kernel");
}

__global__ static void sum_kernel(float *out, const float *values, int count) {
  float partial = 0.0f;
  for (int i = threadIdx.x; i < count; i += THREADS) partial += values[i];
  partial = block_sum(partial);
  if (threadIdx.x == 0) *out = partial;
}

extern "C" void gsvae_launch_sum(float *out, const float *values, int count, cudaStream_t stream) {
  sum_kernel<<<1, THREADS, 0, stream>>>(out, values, count);
  kernelCheck("sum_kernel");
}

/* BCE from the pre-sigmoid output, as model_math.c: max(a, 0) - x a + log(1 + exp(-|a|)). */
__global__ static void bce_kernel(const float *a, const float *x, float *da, float *bce_rows, int x_rows, int samples,
                                  int dim) {
  size_t offset = (size_t)blockIdx.x * dim, x_offset = (size_t)(blockIdx.x % x_rows) * dim;
  float loss = 0.0f;
  for (int p = threadIdx.x; p < dim; p += THREADS) {
    float logit = a[offset + p], target = x[x_offset + p];
    float e = expf(-fabsf(logit)), one_plus = 1.0f + e;
    loss += (logit > 0.0f ? logit : 0.0f) - target * logit + logf(one_plus);
    /* divided as model_math.c divides (by 1 exactly when there is one sample) */
    if (da) da[offset + p] = ((logit >= 0.0f ? 1.0f : e) / one_plus - target) / (float)samples;
  }
  loss = block_sum(loss);
  if (threadIdx.x == 0) bce_rows[blockIdx.x] = loss;
}

extern "C" void gsvae_launch_bce(const float *a, const float *x, float *da, float *bce_rows, int rows, int x_rows,
                                 int samples, int dim, cudaStream_t stream) {
  if (rows == 0) return;
  bce_kernel<<<rows, THREADS, 0, stream>>>(a, x, da, bce_rows, x_rows, samples, dim);
  kernelCheck("bce_kernel");
}

__global__ static void onehot_linear_kernel(float *out, const float *weight, const float *bias, const int *choice,
                                            int rows, int out_features, int latents, int K, int relu) {
  size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (i >= (size_t)rows * out_features) return;
  int row = (int)(i / out_features), o = (int)(i % out_features);
  const float *w = weight + (size_t)o * latents * K;
  const int *c = choice + (size_t)row * latents;
  float sum = bias[o];
  for (int l = 0; l < latents; l++) sum += w[l * K + c[l]];
  out[i] = relu && sum < 0.0f ? 0.0f : sum;
}

extern "C" void gsvae_launch_onehot_linear(float *out, const float *weight, const float *bias, const int *choice,
                                           int rows, int out_features, int latents, int categories, int relu,
                                           cudaStream_t stream) {
  onehot_linear_kernel<<<blocks_for((size_t)rows * out_features), THREADS, 0, stream>>>(
      out, weight, bias, choice, rows, out_features, latents, categories, relu);
  kernelCheck("onehot_linear_kernel");
}

__global__ static void step_metrics_kernel(float *slots, const float *bce_rows, const float *kl_groups,
                                           const float *bce_unrelaxed_rows, int rows, int samples, int latents) {
  float relaxed = 0.0f, bce = 0.0f, kl = 0.0f, unrelaxed = 0.0f;
  for (int row = threadIdx.x; row < rows; row += THREADS) {
    float row_kl = 0.0f, row_bce = 0.0f;
    for (int g = 0; g < latents; g++) row_kl += kl_groups[(size_t)row * latents + g];
    for (int s = 0; s < samples; s++) row_bce += bce_rows[(size_t)s * rows + row];
    row_bce /= (float)samples;
    relaxed += row_bce + row_kl;
    bce += row_bce;
    kl += row_kl;
    if (bce_unrelaxed_rows) unrelaxed += bce_unrelaxed_rows[row] + row_kl;
  }
  relaxed = block_sum(relaxed);
  bce = block_sum(bce);
  kl = block_sum(kl);
  unrelaxed = block_sum(unrelaxed);
  if (threadIdx.x == 0) {
    slots[GSVAE_METRIC_RELAXED] = relaxed;
    slots[GSVAE_METRIC_BCE] = bce;
    slots[GSVAE_METRIC_KL] = kl;
    slots[GSVAE_METRIC_UNRELAXED] = unrelaxed;
    slots[GSVAE_METRIC_SAMPLES] = (float)rows;
  }
}

extern "C" void gsvae_launch_step_metrics(float *slots, const float *bce_rows, const float *kl_groups,
                                          const float *bce_unrelaxed_rows, int rows, int samples, int latents,
                                          cudaStream_t stream) {
  step_metrics_kernel<<<1, THREADS, 0, stream>>>(slots, bce_rows, kl_groups, bce_unrelaxed_rows, rows, samples,
                                                 latents);
  kernelCheck("step_metrics_kernel");
}

__global__ static void check_finite_kernel(const float *values, size_t count, float *flag) {
  int bad = 0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count; i += (size_t)gridDim.x * blockDim.x)
    bad |= !isfinite(values[i]);
  if (__syncthreads_or(bad) && threadIdx.x == 0) *flag = 1.0f; /* the same store from any block: order-free */
}

extern "C" void gsvae_launch_check_finite(const float *values, size_t count, float *flag, cudaStream_t stream) {
  unsigned blocks = blocks_for(count);
  if (blocks > 1024) blocks = 1024;
  if (blocks == 0) return;
  check_finite_kernel<<<blocks, THREADS, 0, stream>>>(values, count, flag);
  kernelCheck("check_finite_kernel");
}

__global__ static void fold_kernel(float *out, const float *sources, size_t stride, int count, size_t length) {
  size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (i >= length) return;
  float sum = sources[i];
  for (int s = 1; s < count; s++) sum += sources[(size_t)s * stride + i];
  out[i] = sum;
}

extern "C" void gsvae_launch_fold(float *out, const float *sources, size_t stride, int count, size_t length,
                                  cudaStream_t stream) {
  if (length == 0 || count == 0) return;
  fold_kernel<<<blocks_for(length), THREADS, 0, stream>>>(out, sources, stride, count, length);
  kernelCheck("fold_kernel");
}

__global__ static void optimizer_kernel(float *params, float *exp_avg, float *exp_avg_sq, const float *grads,
                                        size_t count, const float *agreed, const gsvae_cuda_step *step,
                                        gsvae_cuda_optimizer o) {
  size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (i >= count || agreed[0] != 0.0f) return;
  /* cpu_optimizer_update's operations in its order, each rounded alone (no contraction into FMA),
   * so that the same gradient and state give the CPU's bits; the rule is the step's, read here so
   * that a captured step replays either */
  float g = __fdiv_rn(grads[i], step->grad_divisor);
  float m = __fadd_rn(__fmul_rn(o.beta1, exp_avg[i]), __fmul_rn(o.one_minus_beta1, g));
  float v = __fadd_rn(__fmul_rn(o.beta2, exp_avg_sq[i]), __fmul_rn(__fmul_rn(o.one_minus_beta2, g), g));
  exp_avg[i] = m;
  exp_avg_sq[i] = v;
  float update;
  if (step->update_rule == GSVAE_UPDATE_ADAM) {
    float denominator = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), step->bias2_sqrt), o.eps);
    update = __fmul_rn(step->step_size, __fdiv_rn(m, denominator));
  } else if (step->update_rule == GSVAE_UPDATE_RADAM_MOMENTUM) {
    update = __fmul_rn(__fdiv_rn(m, step->bias1), o.lr);
  } else {
    float adaptive_lr = __fmul_rn(__fdiv_rn(1.0f, __fadd_rn(__fsqrt_rn(v), o.eps)), step->bias2_sqrt);
    update = __fmul_rn(__fmul_rn(__fmul_rn(__fdiv_rn(m, step->bias1), o.lr), adaptive_lr), step->rect);
  }
  params[i] = __fsub_rn(params[i], update);
}

extern "C" void gsvae_launch_optimizer(float *params, float *exp_avg, float *exp_avg_sq, const float *grads,
                                       size_t count, const float *agreed, const gsvae_cuda_step *step,
                                       gsvae_cuda_optimizer optimizer, cudaStream_t stream) {
  if (count == 0) return;
  optimizer_kernel<<<blocks_for(count), THREADS, 0, stream>>>(params, exp_avg, exp_avg_sq, grads, count, agreed,
                                                               step, optimizer);
  kernelCheck("optimizer_kernel");
}

__global__ static void sf_baseline_update_kernel(float *state, const float *agreed, double decay) {
  if (agreed[0] != 0.0f) return;
  gsvae_sf_baseline_update(state, agreed[1 + GSVAE_METRIC_BCE] / agreed[1 + GSVAE_METRIC_SAMPLES], decay);
}

extern "C" void gsvae_launch_sf_baseline_update(float *state, const float *agreed, double decay, cudaStream_t stream) {
  sf_baseline_update_kernel<<<1, 1, 0, stream>>>(state, agreed, decay);
  kernelCheck("sf_baseline_update_kernel");
}

__global__ static void accumulate_metrics_kernel(gsvae_cuda_metrics *metrics, const float *agreed) {
  metrics->bad_streak = gsvae_loss_sums_add_step(&metrics->sums, agreed) ? 0 : metrics->bad_streak + 1;
}

extern "C" void gsvae_launch_accumulate_metrics(gsvae_cuda_metrics *metrics, const float *agreed, cudaStream_t stream) {
  accumulate_metrics_kernel<<<1, 1, 0, stream>>>(metrics, agreed);
  kernelCheck("accumulate_metrics_kernel");
}
