/* GPU tests, each a mode of this program (exit 77 = skipped when no GPU is visible):
 *   one_step       CPU and CUDA backends, same config/params/batch: loss, metrics and every
 *                  gradient tensor agree (fp32), and the optimizer on the same gradient gives the
 *                  same bits, for every estimator, sf with either baseline and tau.learn; test
 *                  loss too
 *   hundred_steps  the same over 100 training steps, the GPU starting each from the CPU's state
 *                  (so that rounding cannot compound): gs, sf with its moving average, st with a
 *                  learned tau, and st with RAdam (its two rules: momentum to t = 5, rectified on)
 *   graphs         graph replay equals eager launches bit for bit (params, optimizer state,
 *                  metrics), also with RAdam, whose rule the captured step reads per step
 *   nccl           the NCCL communicator with one rank (its ordered reduction inside the step)
 *                  equals no communicator, bit for bit, in a graph and eager, with and without
 *                  train.deterministic; a deterministic run repeated gives the same bits */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/backend.h"
#include "cpu/cpu_backend.h"
#include "comm/comm.h"
#include "cuda/cuda.h"
#include "core/data.h"
#include "core/noise.h"
#include "cuda/cuda_util.h"

#define TRAIN_IMAGES 1050 /* batch 100: an epoch of 10 full batches and a short one of 50 */
#define TEST_IMAGES 300

/* The estimator under test: train.estimator with its samples (grmck's K, sf's S), sf's baseline
 * and tau.learn. */
typedef struct {
  gsvae_estimator estimator;
  int samples;
  gsvae_sf_baseline baseline;
  bool learn_tau;
  const char *label;
} estimator_case;

typedef struct {
  gsvae_config config;
  gsvae_layout layout;
  gsvae_dataset train, test;
  float *params, *zeros;
  uint32_t *order;
  long steps_per_epoch;
} fixture;

static int failures = 0;

/* Smooth blobs plus noise as 0..255 bytes: images with structure, from a fixed seed. */
static void synthetic_dataset(gsvae_dataset *d, int count, uint64_t seed) {
  d->count = count, d->rows = 28, d->cols = 28, d->dim = 784;
  d->pixels = mallocCheck((size_t)count * d->dim);
  d->labels = callocCheck((size_t)count, 1);
  float u[784];
  for (int i = 0; i < count; i++) {
    gsvae_fill_uniform(u, 784, seed, 99, 0, (uint64_t)i);
    float cx = 8 + 12 * u[0], cy = 8 + 12 * u[1], r = 3 + 6 * u[2];
    for (int p = 0; p < 784; p++) {
      float dx = p % 28 - cx, dy = p / 28 - cy;
      float v = expf(-(dx * dx + dy * dy) / (2 * r * r)) + 0.15f * u[p];
      d->pixels[(size_t)i * 784 + p] = (uint8_t)(v >= 1 ? 255 : 255 * v);
    }
    d->labels[i] = (uint8_t)(i % 10);
  }
}

static void fixture_init(fixture *f, estimator_case c, gsvae_binarize binarize) {
  memset(f, 0, sizeof *f);
  gsvae_config_defaults(&f->config);
  f->config.train_estimator = c.estimator;
  if (c.samples) f->config.train_estimator_samples = c.samples;
  f->config.train_sf_baseline = c.baseline;
  f->config.tau_learn = c.learn_tau;
  if (c.learn_tau) f->config.tau_schedule = GSVAE_TAU_CONSTANT, f->config.tau_init = 0.7;
  f->config.data_binarize = binarize;
  f->config.train_unrelaxed = true;
  f->config.device_precision = GSVAE_PRECISION_FP32;
  synthetic_dataset(&f->train, TRAIN_IMAGES, 11);
  synthetic_dataset(&f->test, TEST_IMAGES, 12);
  gsvae_layout_build(&f->layout, 784, &f->config);
  f->params = mallocCheck(f->layout.param_count * sizeof(float));
  f->zeros = callocCheck(f->layout.param_count, sizeof(float));
  gsvae_params_init(&f->layout, f->params, f->config.train_seed);
  f->order = mallocCheck(TRAIN_IMAGES * sizeof(uint32_t));
  f->steps_per_epoch = (TRAIN_IMAGES + f->config.train_batch - 1) / f->config.train_batch;
}

static void fixture_free(fixture *f) {
  gsvae_dataset_free(&f->train);
  gsvae_dataset_free(&f->test);
  free(f->params);
  free(f->zeros);
  free(f->order);
}

/* As train.c's make_step for one rank; tau changes every step so that reading it from device
 * memory is exercised. */
static gsvae_step make_step(const fixture *f, long step) {
  gsvae_step s;
  s.step = step;
  s.epoch = step / f->steps_per_epoch;
  s.batch_start = (step % f->steps_per_epoch) * f->config.train_batch;
  long remaining = TRAIN_IMAGES - s.batch_start;
  s.global_count = (int)(remaining < f->config.train_batch ? remaining : f->config.train_batch);
  gsvae_step_slice(&s, &f->config, 0, 1);
  s.tau = (float)fmax(0.5, exp(-0.01 * step));
  return s;
}

/* A backend for steps of up to max_rows rows per chunk and max_chunks chunks, holding f->params. */
static gsvae_backend *make_backend(fixture *f, bool cuda, int max_rows, int max_chunks) {
  gsvae_backend *b = cuda ? gsvae_cuda_backend_create(&f->config, &f->layout, &f->train, &f->test, max_rows, max_chunks)
                          : gsvae_cpu_backend_create(&f->config, &f->layout, &f->train, &f->test, max_rows, max_chunks);
  b->set_state(b, f->params, f->zeros, f->zeros);
  return b;
}

/* At an epoch's first step, the epoch's order to each backend, as the training loop does. */
static void begin_epoch_if_first_step(fixture *f, const gsvae_step *s, gsvae_backend **backends, int count) {
  if (s->batch_start != 0) return;
  gsvae_epoch_permutation(f->order, TRAIN_IMAGES, f->config.train_seed, s->epoch);
  for (int i = 0; i < count; i++) backends[i]->begin_epoch(backends[i], s->epoch, f->order);
}

/* The training loop's step sequence, metrics read every `read_every` steps and summed into *total. */
static void train_steps(fixture *f, gsvae_backend *b, long steps, int read_every, gsvae_loss_sums *total) {
  memset(total, 0, sizeof *total);
  for (long step = 0; step < steps; step++) {
    gsvae_step s = make_step(f, step);
    begin_epoch_if_first_step(f, &s, &b, 1);
    b->forward_backward(b, &s);
    b->update(b, &s);
    if ((step + 1) % read_every == 0 || step + 1 == steps) {
      gsvae_metric_read read;
      b->read_metrics(b, &read);
      gsvae_loss_sums_add(total, &read.sums);
    }
  }
}

static void expect(bool ok, const char *what, double value, double limit) {
  printf("%s %-40s %.3e (limit %.1e)\n", ok ? "ok  " : "FAIL", what, value, limit);
  if (!ok) failures++;
}

static double relative(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-30); }

/* ---- one_step and hundred_steps: CPU against GPU, each step from the same state ---- */

/* A float loss or gradient of one sample is a sum of ~1e3 float terms whose order differs between
 * the backends: ~1e-6 of its terms' size apart. Its decisions (ReLU kinks, the argmax of a hard
 * sample) are the same unless two scores lie within that rounding of each other: then one sample's
 * loss moves by a decoder output's worth (1e-4 and more of ~500 nats). A sample whose loss differs
 * by more than this is such a decision, counted, and left out of the sums compared. */
#define DECISION_LIMIT 1e-5
/* Ties within rounding are rare: the top two of K Gumbel-perturbed scores ~1 apart (their gap has a
 * density of O(1) near 0) lie within the backends' ~1e-6 rounding of each other with probability
 * ~1e-6, times 30 latents and up to 2 samples: ~6e-5 per sample, ~0.6 expected over the 9550
 * samples of hundred_steps, and 0 were seen on an H100 (docs/gpu.md). A rate allowance would let a
 * wrong row through (the 9 short batches of 100 steps are 9 samples in 9550), so the allowance is
 * absolute: at most 2 per case (Poisson(0.6) exceeds 2 with probability 2%, and the whole-batch
 * comparison below shows that each such sample's difference is all the batch differs by). */
#define DECISIONS_LIMIT 2

/* The worst CPU-vs-GPU differences over the steps compared so far. */
typedef struct {
  double metric[GSVAE_METRIC_SLOTS];
  double *tensor;          /* per layout tensor: its gradient's distance, relative to the samples' own sizes */
  bool gradient_vanished;  /* a trained tensor's CPU gradient was all zero: its comparison shows nothing */
  bool state_moved;        /* sf's baseline is state: its gradient must be exactly 0 on both */
  long samples, decisions, unrelaxed_decisions; /* samples compared; those left out (relaxed, unrelaxed) */
  double *batch_tensor;    /* per layout tensor: the whole batch's GPU gradient against the CPU's, less
                              the decided samples' own differences, relative to the samples' sizes */
  double batch_metric[GSVAE_METRIC_SLOTS]; /* the same for the whole batch's metric sums */
  long short_batches;      /* steps compared whose batch is shorter than train.batch */
  size_t update_differing; /* parameters and moments whose GPU update, from the CPU's gradient, differs */
  double baseline;         /* sf's moving average after the update, relative */
} differences;

/* Chunk c of step s alone, as if it were a rank's whole slice. */
static gsvae_step chunk_alone(const gsvae_step *s, int c) {
  gsvae_step one = *s;
  one.first_chunk = c, one.local_chunks = 1;
  one.local_start = gsvae_chunk_start(s->global_count, s->chunk_count, c);
  one.local_count = gsvae_chunk_start(s->global_count, s->chunk_count, c + 1) - one.local_start;
  return one;
}

/* One step from the state both backends hold. Each sample is run alone on both (a chunk per
 * sample), so that every gradient element can be compared against the sum of its samples' sizes,
 * which cancellation in the batch's sum (log tau's scalar, a bias) cannot shrink. Then the whole
 * batch as one chunk, and the GPU's update on the CPU's gradient (copied over its own): its optimizer,
 * which rounds each operation as cpu_optimizer_update does, must give the CPU's bits. */
static void compare_step(fixture *f, gsvae_backend *cpu, gsvae_backend *gpu, const gsvae_step *s, differences *d) {
  const gsvae_layout *layout = &f->layout;
  size_t n = layout->param_count, count_cpu, count_gpu;
  double *sum[2], *size = callocCheck(n, sizeof(double)), metrics[2][GSVAE_METRIC_SLOTS] = {{0}};
  double metric_scale[GSVAE_METRIC_SLOTS] = {0};
  /* the decided samples' own GPU-minus-CPU differences, all that the whole batch may differ by */
  double *decided_diff = callocCheck(n + GSVAE_METRIC_SLOTS, sizeof(double)), *size_all = callocCheck(n, sizeof(double));
  for (int b = 0; b < 2; b++) sum[b] = callocCheck(n, sizeof(double));
  float *sample[2];
  for (int b = 0; b < 2; b++) sample[b] = mallocCheck((n + GSVAE_METRIC_SLOTS) * sizeof(float));
  for (int c = 0; c < s->chunk_count; c++) {
    gsvae_step one = chunk_alone(s, c);
    cpu->forward_backward(cpu, &one);
    gpu->forward_backward(gpu, &one);
    memcpy(sample[0], cpu->reduce_buffer(cpu, &count_cpu), (n + GSVAE_METRIC_SLOTS) * sizeof(float));
    float *gpu_device = gpu->reduce_buffer(gpu, &count_gpu);
    cudaCheck(cudaDeviceSynchronize());
    cudaCheck(cudaMemcpy(sample[1], gpu_device, (n + GSVAE_METRIC_SLOTS) * sizeof(float), cudaMemcpyDeviceToHost));
    const float *m0 = sample[0] + n, *m1 = sample[1] + n;
    bool decided = fabs((double)m1[GSVAE_METRIC_RELAXED] - m0[GSVAE_METRIC_RELAXED]) >
                   DECISION_LIMIT * fabs(m0[GSVAE_METRIC_RELAXED]);
    bool unrelaxed_decided = fabs((double)m1[GSVAE_METRIC_UNRELAXED] - m0[GSVAE_METRIC_UNRELAXED]) >
                             DECISION_LIMIT * fabs(m0[GSVAE_METRIC_UNRELAXED]);
    d->samples += (long)m0[GSVAE_METRIC_SAMPLES];
    d->decisions += decided, d->unrelaxed_decisions += unrelaxed_decided;
    for (size_t i = 0; i < n; i++) size_all[i] += fabs(sample[0][i]);
    for (int m = 0; m < GSVAE_METRIC_SLOTS; m++)
      if (m == GSVAE_METRIC_UNRELAXED ? unrelaxed_decided : decided) decided_diff[n + m] += (double)m1[m] - m0[m];
    if (decided)
      for (size_t i = 0; i < n; i++) decided_diff[i] += (double)sample[1][i] - sample[0][i];
    for (int m = 0; m < GSVAE_METRIC_SLOTS; m++) {
      if (m == GSVAE_METRIC_UNRELAXED ? unrelaxed_decided : decided) continue;
      for (int b = 0; b < 2; b++) metrics[b][m] += (b ? m1 : m0)[m];
      /* KL(q || uniform) sums terms q (log q + log K) that cancel (it is ~0 near uniform q); each
       * group's rounding scales with its terms, at most 2 log K per group, not with their sum */
      metric_scale[m] += m == GSVAE_METRIC_KL ? m0[GSVAE_METRIC_SAMPLES] * layout->latents * 2 * log(layout->categories)
                                              : fabs(m0[m]);
    }
    if (decided) continue;
    for (size_t i = 0; i < n; i++) {
      sum[0][i] += sample[0][i], sum[1][i] += sample[1][i];
      size[i] += fabs(sample[0][i]);
    }
  }
  for (int m = 0; m < GSVAE_METRIC_SLOTS; m++)
    d->metric[m] = fmax(d->metric[m], fabs(metrics[1][m] - metrics[0][m]) / fmax(metric_scale[m], 1e-30));
  for (int t = 0; t < gsvae_layout_tensor_count(layout); t++) {
    char name[32];
    int rank;
    size_t shape[2], offset, length;
    gsvae_layout_tensor(layout, t, name, &rank, shape, &offset, &length);
    double diff = 0, norm = 0, magnitude = 0;
    for (size_t i = offset; i < offset + length; i++) {
      diff += (sum[1][i] - sum[0][i]) * (sum[1][i] - sum[0][i]);
      norm += sum[0][i] * sum[0][i];
      magnitude += size[i] * size[i];
    }
    if (!strcmp(name, "sf_baseline")) d->state_moved |= diff != 0 || norm != 0;
    else d->gradient_vanished |= norm == 0, d->tensor[t] = fmax(d->tensor[t], sqrt(diff) / fmax(sqrt(magnitude), 1e-30));
  }
  gsvae_step whole = *s;
  whole.chunk_count = 1;
  whole = chunk_alone(&whole, 0);
  cpu->forward_backward(cpu, &whole);
  gpu->forward_backward(gpu, &whole);
  float *gpu_device = gpu->reduce_buffer(gpu, &count_gpu);
  const float *cpu_whole = cpu->reduce_buffer(cpu, &count_cpu);
  cudaCheck(cudaDeviceSynchronize()); /* the backend's stream does not order against this copy */
  /* The whole batch as one chunk (its rows' offsets, its last row) against the CPU: the same sums as
   * the samples alone, so it may differ by the decided samples' differences and rounding only. */
  cudaCheck(cudaMemcpy(sample[1], gpu_device, (n + GSVAE_METRIC_SLOTS) * sizeof(float), cudaMemcpyDeviceToHost));
  for (int m = 0; m < GSVAE_METRIC_SLOTS; m++) {
    double scale = fmax(metric_scale[m], fabs(cpu_whole[n + m]));
    double off = fabs((double)sample[1][n + m] - cpu_whole[n + m] - decided_diff[n + m]);
    d->batch_metric[m] = fmax(d->batch_metric[m], off / fmax(scale, 1e-30));
  }
  for (int t = 0; t < gsvae_layout_tensor_count(layout); t++) {
    char name[32];
    int rank;
    size_t shape[2], offset, length;
    gsvae_layout_tensor(layout, t, name, &rank, shape, &offset, &length);
    double diff = 0, magnitude = 0;
    for (size_t i = offset; i < offset + length; i++) {
      double off = (double)sample[1][i] - cpu_whole[i] - decided_diff[i];
      diff += off * off, magnitude += size_all[i] * size_all[i];
    }
    if (strcmp(name, "sf_baseline")) d->batch_tensor[t] = fmax(d->batch_tensor[t], sqrt(diff) / fmax(sqrt(magnitude), 1e-30));
  }
  d->short_batches += s->global_count < f->config.train_batch;
  cudaCheck(cudaMemcpy(gpu_device, cpu_whole, count_cpu * sizeof(float), cudaMemcpyHostToDevice));
  cpu->update(cpu, &whole);
  gpu->update(gpu, &whole);
  float *state[2][3];
  for (int b = 0; b < 2; b++) {
    for (int k = 0; k < 3; k++) state[b][k] = mallocCheck(n * sizeof(float));
    (b ? gpu : cpu)->get_state(b ? gpu : cpu, state[b][0], state[b][1], state[b][2]);
  }
  size_t baseline = layout->has_sf_baseline ? layout->sf_baseline_offset : n;
  for (int k = 0; k < 3; k++)
    for (size_t i = 0; i < n; i++) {
      /* the moving average is updated in double, where nvcc may contract into FMA: compared below */
      if (i == baseline || i == baseline + 1) continue;
      d->update_differing += memcmp(&state[0][k][i], &state[1][k][i], sizeof(float)) != 0;
    }
  if (layout->has_sf_baseline)
    for (int i = 0; i < 2; i++)
      d->baseline = fmax(d->baseline, relative(state[1][0][baseline + i], state[0][0][baseline + i]));
  for (int b = 0; b < 2; b++) {
    for (int k = 0; k < 3; k++) free(state[b][k]);
    free(sum[b]), free(sample[b]);
  }
  free(size), free(size_all), free(decided_diff);
}

/* Each gradient tensor and metric within its limit, few decisions, the update bit for bit. */
static void report_differences(const fixture *f, const differences *d, double limit) {
  const char *metric_names[GSVAE_METRIC_SLOTS] = {"relaxed loss", "bce", "kl (vs 2 L log K per sample)",
                                                  "unrelaxed loss", "samples"};
  for (int m = 0; m < GSVAE_METRIC_SLOTS; m++) expect(d->metric[m] <= 1e-5, metric_names[m], d->metric[m], 1e-5);
  for (int t = 0; t < gsvae_layout_tensor_count(&f->layout); t++) {
    char name[32], what[64];
    int rank;
    size_t shape[2], offset, length;
    gsvae_layout_tensor(&f->layout, t, name, &rank, shape, &offset, &length);
    if (!strcmp(name, "sf_baseline")) continue;
    snprintf(what, sizeof what, "grad %s (L2, vs samples' sizes)", name);
    expect(d->tensor[t] <= limit, what, d->tensor[t], limit);
    snprintf(what, sizeof what, "whole batch: grad %s", name);
    expect(d->batch_tensor[t] <= limit, what, d->batch_tensor[t], limit);
  }
  for (int m = 0; m < GSVAE_METRIC_SLOTS; m++) {
    char what[64];
    snprintf(what, sizeof what, "whole batch: %s", metric_names[m]);
    expect(d->batch_metric[m] <= 1e-5, what, d->batch_metric[m], 1e-5);
  }
  expect(d->short_batches > 0, "a short batch among the steps compared", (double)d->short_batches, 1);
  expect(!d->gradient_vanished, "no trained tensor with an all-zero gradient", d->gradient_vanished, 0);
  expect(!d->state_moved, "sf baseline's gradient exactly 0", d->state_moved, 0);
  printf("     %ld samples; decisions within rounding of a tie: %ld (relaxed), %ld (unrelaxed)\n", d->samples,
         d->decisions, d->unrelaxed_decisions);
  long decisions = d->decisions > d->unrelaxed_decisions ? d->decisions : d->unrelaxed_decisions;
  expect(decisions <= DECISIONS_LIMIT, "samples with a decision at a tie", (double)decisions, DECISIONS_LIMIT);
  expect(d->update_differing == 0, "the optimizer on the CPU's gradient: values differing",
         (double)d->update_differing, 0);
  /* the average's inputs are equal (the CPU's metric sums were copied over): double rounding only */
  expect(d->baseline <= 1e-6, "sf moving average after the update", d->baseline, 1e-6);
}

/* `steps` steps of the training loop's sequence; before each, the GPU takes the CPU's state, so
 * that differences cannot compound. Eager, a chunk per sample (train.deterministic with as many
 * chunks as the batch has samples), and room for the whole batch as one chunk. */
static void compare_steps(estimator_case c, gsvae_binarize binarize, int steps, gsvae_optimizer optimizer) {
  printf("-- %d step%s and a short batch from the CPU's state, %s\n", steps, steps == 1 ? "" : "s", c.label);
  /* fp32 sums in another order: ~1e-7 per operation, 1e-5 leaves room for the depth of the net.
   * sf's gradient weighs each sample by its loss less the baseline: differences of per-sample BCE
   * sums (~500 nats over 784 float terms, about 1e-4 apart when summed in the GPU's order) that are
   * a few nats apart, so its weights, and the encoder's gradient, carry ~1e-5..1e-4 relative;
   * 1e-3 still catches a wrong sample, baseline or sign, which move it by O(1). */
  double limit = c.estimator == GSVAE_ESTIMATOR_SF ? 1e-3 : 1e-5;
  fixture f;
  fixture_init(&f, c, binarize);
  f.config.train_optimizer = optimizer;
  f.config.train_deterministic = true;
  f.config.train_reduce_chunks = f.config.train_batch;
  f.config.device_graphs = false;
  int batch = f.config.train_batch;
  gsvae_backend *cpu = make_backend(&f, false, batch, batch), *gpu = make_backend(&f, true, batch, batch);
  differences d = {.tensor = callocCheck((size_t)gsvae_layout_tensor_count(&f.layout), sizeof(double)),
                   .batch_tensor = callocCheck((size_t)gsvae_layout_tensor_count(&f.layout), sizeof(double))};
  size_t n = f.layout.param_count;
  float *params = mallocCheck(n * sizeof(float)), *exp_avg = mallocCheck(n * sizeof(float)),
        *exp_avg_sq = mallocCheck(n * sizeof(float));
  /* the first epoch's short last batch (50 rows) too, where fewer steps do not reach it */
  long short_step = f.steps_per_epoch - 1, compared = steps > short_step ? steps : steps + 1;
  for (long i = 0; i < compared; i++) {
    long step = i < steps ? i : short_step;
    gsvae_step s = make_step(&f, step);
    begin_epoch_if_first_step(&f, &s, (gsvae_backend *[]){cpu, gpu}, 2);
    cpu->get_state(cpu, params, exp_avg, exp_avg_sq);
    gpu->set_state(gpu, params, exp_avg, exp_avg_sq);
    compare_step(&f, cpu, gpu, &s, &d);
  }
  report_differences(&f, &d, limit);
  gsvae_metric_read reads[2];
  cpu->read_metrics(cpu, &reads[0]);
  gpu->read_metrics(gpu, &reads[1]);
  expect(reads[1].sums.skipped == 0 && reads[1].sums.steps == compared, "gpu steps counted, none skipped",
         (double)reads[1].sums.skipped, 0);
  /* log tau's bits are the CPU's (Adam above is compared bit for bit); tau = expf of them, CUDA's
   * expf within 2 ulp (2.4e-7 relative): 1e-6 is rounding, a wrong parameter moves it by 1e-3 and more */
  if (c.learn_tau)
    expect(relative(reads[1].tau, reads[0].tau) <= 1e-6, "learned tau read out", relative(reads[1].tau, reads[0].tau),
           1e-6);
  /* The same parameters on both (Adam bit for bit): 300 per-sample losses of ~1e3 float terms each,
   * summed in another order, ~1e-6 relative each; positive, so the sum's relative error is no more.
   * An argmax at a tie in the test set moves one sample by ~1e-4 of its loss, 3e-7 of the sum. */
  double cpu_test[GSVAE_METRIC_SLOTS] = {0}, gpu_test[GSVAE_METRIC_SLOTS] = {0};
  cpu->evaluate(cpu, 0, TEST_IMAGES, cpu_test); /* the same parameters, if the update passed */
  gpu->evaluate(gpu, 0, TEST_IMAGES, gpu_test);
  expect(relative(gpu_test[GSVAE_METRIC_RELAXED], cpu_test[GSVAE_METRIC_RELAXED]) <= 1e-5, "test loss",
         relative(gpu_test[GSVAE_METRIC_RELAXED], cpu_test[GSVAE_METRIC_RELAXED]), 1e-5);
  free(params), free(exp_avg), free(exp_avg_sq), free(d.tensor), free(d.batch_tensor);
  cpu->destroy(cpu);
  gpu->destroy(gpu);
  fixture_free(&f);
}

static void test_one_step(void) {
  compare_steps((estimator_case){GSVAE_ESTIMATOR_GS, 0, GSVAE_SF_BASELINE_EMA, false, "gs, grey pixels"},
                GSVAE_BINARIZE_NONE, 1, GSVAE_OPTIMIZER_ADAM);
  const estimator_case cases[] = {
      {GSVAE_ESTIMATOR_ST, 0, GSVAE_SF_BASELINE_EMA, false, "st"},
      {GSVAE_ESTIMATOR_ST_SOFTMAX, 0, GSVAE_SF_BASELINE_EMA, false, "st_softmax"},
      {GSVAE_ESTIMATOR_GST, 0, GSVAE_SF_BASELINE_EMA, false, "gst"},
      {GSVAE_ESTIMATOR_GRMCK, 10, GSVAE_SF_BASELINE_EMA, false, "grmck, K = 10"},
      {GSVAE_ESTIMATOR_REINMAX, 0, GSVAE_SF_BASELINE_EMA, false, "reinmax"},
      {GSVAE_ESTIMATOR_SF, 4, GSVAE_SF_BASELINE_LOO, false, "sf, 4 samples, leave-one-out"},
      {GSVAE_ESTIMATOR_SF, 1, GSVAE_SF_BASELINE_EMA, false, "sf, 1 sample, moving average"},
      {GSVAE_ESTIMATOR_GS, 0, GSVAE_SF_BASELINE_EMA, true, "gs, tau.learn"},
      {GSVAE_ESTIMATOR_ST_SOFTMAX, 0, GSVAE_SF_BASELINE_EMA, true, "st_softmax, tau.learn"},
      {GSVAE_ESTIMATOR_GST, 0, GSVAE_SF_BASELINE_EMA, true, "gst, tau.learn"},
      {GSVAE_ESTIMATOR_GRMCK, 10, GSVAE_SF_BASELINE_EMA, true, "grmck, K = 10, tau.learn"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    compare_steps(cases[i], GSVAE_BINARIZE_DYNAMIC, 1, GSVAE_OPTIMIZER_ADAM);
}

static void test_hundred_steps(void) {
  const estimator_case cases[] = {
      {GSVAE_ESTIMATOR_GS, 0, GSVAE_SF_BASELINE_EMA, false, "gs"},
      {GSVAE_ESTIMATOR_SF, 2, GSVAE_SF_BASELINE_EMA, false, "sf, 2 samples, moving average"},
      {GSVAE_ESTIMATOR_ST, 0, GSVAE_SF_BASELINE_EMA, true, "st, tau.learn"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    compare_steps(cases[i], GSVAE_BINARIZE_DYNAMIC, 100, GSVAE_OPTIMIZER_ADAM);
  compare_steps((estimator_case){GSVAE_ESTIMATOR_ST, 0, GSVAE_SF_BASELINE_EMA, false, "st, radam"},
                GSVAE_BINARIZE_DYNAMIC, 100, GSVAE_OPTIMIZER_RADAM);
}

/* ---- bitwise comparisons of whole runs ---- */

typedef struct {
  float *params, *exp_avg, *exp_avg_sq;
  gsvae_loss_sums total;
} run_result;

static void run_gpu(fixture *f, bool graphs, bool nccl, long steps, run_result *r) {
  f->config.device_graphs = graphs;
  int max_rows, max_chunks;
  gsvae_step_capacity(&f->config, 1, &max_rows, &max_chunks);
  gsvae_backend *b = make_backend(f, true, max_rows, max_chunks);
  gsvae_comm *comm = NULL;
  if (nccl) comm = gsvae_nccl_comm_create(MPI_COMM_WORLD, gsvae_cuda_backend_stream(b), 300.0);
  if (nccl) b->attach_comm(b, comm);
  train_steps(f, b, steps, 7, &r->total);
  size_t bytes = f->layout.param_count * sizeof(float);
  r->params = mallocCheck(bytes), r->exp_avg = mallocCheck(bytes), r->exp_avg_sq = mallocCheck(bytes);
  b->get_state(b, r->params, r->exp_avg, r->exp_avg_sq);
  if (comm) comm->destroy(comm);
  b->destroy(b);
}

static void expect_same(const fixture *f, const run_result *a, const run_result *b, const char *what) {
  size_t bytes = f->layout.param_count * sizeof(float);
  bool same = !memcmp(a->params, b->params, bytes) && !memcmp(a->exp_avg, b->exp_avg, bytes) &&
              !memcmp(a->exp_avg_sq, b->exp_avg_sq, bytes) &&
              !memcmp(a->total.sum, b->total.sum, sizeof a->total.sum) && a->total.steps == b->total.steps;
  size_t differing = 0;
  for (size_t i = 0; i < f->layout.param_count; i++) differing += memcmp(a->params + i, b->params + i, sizeof(float)) != 0;
  printf("%s %-40s %zu parameters differ; relaxed sums %.9g vs %.9g\n", same ? "ok  " : "FAIL", what, differing,
         a->total.sum[GSVAE_METRIC_RELAXED], b->total.sum[GSVAE_METRIC_RELAXED]);
  if (!same) failures++;
}

static void free_result(run_result *r) {
  free(r->params);
  free(r->exp_avg);
  free(r->exp_avg_sq);
}

static void test_graphs(void) {
  const estimator_case cases[] = {
      {GSVAE_ESTIMATOR_GS, 0, GSVAE_SF_BASELINE_EMA, false, "graphs == eager (gs), 30 steps"},
      {GSVAE_ESTIMATOR_ST, 0, GSVAE_SF_BASELINE_EMA, false, "graphs == eager (st), 30 steps"},
      {GSVAE_ESTIMATOR_SF, 3, GSVAE_SF_BASELINE_EMA, false, "graphs == eager (sf:3, moving average)"},
      {GSVAE_ESTIMATOR_GRMCK, 10, GSVAE_SF_BASELINE_EMA, true, "graphs == eager (grmck, tau.learn)"},
      {GSVAE_ESTIMATOR_REINMAX, 0, GSVAE_SF_BASELINE_EMA, false, "graphs == eager (reinmax, radam)"},
  };
  const size_t radam_case = 4; /* its rule changes at t = 6, inside the 30 replayed steps */
  for (size_t e = 0; e < sizeof cases / sizeof cases[0]; e++) {
    fixture f;
    fixture_init(&f, cases[e], GSVAE_BINARIZE_DYNAMIC);
    if (e == radam_case) f.config.train_optimizer = GSVAE_OPTIMIZER_RADAM;
    run_result eager, graph;
    run_gpu(&f, false, false, 30, &eager);
    run_gpu(&f, true, false, 30, &graph);
    expect_same(&f, &eager, &graph, cases[e].label);
    free_result(&eager);
    free_result(&graph);
    fixture_free(&f);
  }
}

/* Without and with train.deterministic (8 chunks folded in order): the communicator with one
 * rank, in a graph and eager, equals none; and a deterministic run repeated gives the same bits. */
static void test_nccl(void) {
  gsvae_node_placement placement = gsvae_node_placement_find(MPI_COMM_WORLD);
  char err[GSVAE_ERR_LEN];
  if (gsvae_cuda_select_device(&placement, MPI_COMM_WORLD, GSVAE_COMM_NCCL, err) < 0) {
    printf("gpu_nccl: %s\n", err);
    failures++;
    return;
  }
  for (int deterministic = 0; deterministic < 2; deterministic++) {
    fixture f;
    fixture_init(&f, (estimator_case){GSVAE_ESTIMATOR_GS, 0, GSVAE_SF_BASELINE_EMA, false, "gs"}, GSVAE_BINARIZE_DYNAMIC);
    f.config.train_deterministic = deterministic;
    f.config.train_reduce_chunks = 8;
    printf("-- train.deterministic=%s\n", deterministic ? "true (8 chunks)" : "false");
    run_result none, attached, attached_eager, again;
    run_gpu(&f, true, false, 30, &none);
    run_gpu(&f, true, true, 30, &attached);
    run_gpu(&f, false, true, 30, &attached_eager);
    expect_same(&f, &none, &attached, "nccl inside the step graph == none");
    expect_same(&f, &none, &attached_eager, "nccl, eager == none");
    run_result *all[] = {&none, &attached, &attached_eager, &again};
    int results = 3;
    if (deterministic) {
      run_gpu(&f, true, true, 30, &again);
      expect_same(&f, &attached, &again, "deterministic run repeated == itself");
      results = 4;
    }
    for (int i = 0; i < results; i++) free_result(all[i]);
    fixture_free(&f);
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: gpu_test one_step|hundred_steps|graphs|nccl\n");
    return 2;
  }
  const char *mode = argv[1];
  int devices = gsvae_cuda_device_count();
  if (devices == 0) {
    printf("SKIP %s: no GPU visible to this process (no CUDA driver or device), so there is nothing to run\n", mode);
    return 77;
  }
  int one = 1;
  char **no_args = argv;
  gsvae_mpi_start(&one, &no_args);
  if (!strcmp(mode, "one_step")) test_one_step();
  else if (!strcmp(mode, "hundred_steps")) test_hundred_steps();
  else if (!strcmp(mode, "graphs")) test_graphs();
  else if (!strcmp(mode, "nccl")) test_nccl();
  else {
    fprintf(stderr, "gpu_test: unknown mode '%s'\n", mode);
    return 2;
  }
  mpiCheck(MPI_Finalize());
  printf("%s: %s\n", mode, failures ? "FAILED" : "passed");
  return failures ? 1 : 0;
}
