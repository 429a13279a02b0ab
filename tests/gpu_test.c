/* GPU tests, each a mode of this program (exit 77 = skipped when no GPU is visible):
 *   one_step       CPU and CUDA backends, same config/params/batch: loss, metrics and every
 *                  gradient tensor agree (fp32), for every estimator, sf with either baseline and
 *                  tau.learn; test loss too
 *   hundred_steps  the losses of 100 training steps agree (CPU vs CUDA): gs, sf with its moving
 *                  average, st with a learned tau (and the learned tau itself)
 *   graphs         graph replay equals eager launches bit for bit (params, Adam state, metrics)
 *   nccl           the NCCL communicator with one rank (its ordered reduction inside the step)
 *                  equals no communicator, bit for bit, in a graph and eager */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gsvae/backend.h"
#include "gsvae/cli.h"
#include "gsvae/comm.h"
#include "gsvae/cuda.h"
#include "gsvae/data.h"
#include "gsvae/rng.h"
#include "cuda_util.h"

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
  s.local_start = 0;
  s.local_count = s.global_count;
  s.chunk_count = f->config.train_reduce_chunks < s.global_count ? f->config.train_reduce_chunks : s.global_count;
  s.first_chunk = 0;
  s.local_chunks = s.chunk_count;
  s.tau = (float)fmax(0.5, exp(-0.01 * step));
  return s;
}

static gsvae_backend *make_backend(fixture *f, bool cuda) {
  int chunks = f->config.train_reduce_chunks, rows = (f->config.train_batch + chunks - 1) / chunks;
  gsvae_backend *b = cuda ? gsvae_cuda_backend_create(&f->config, &f->layout, &f->train, &f->test, rows, chunks)
                          : gsvae_cpu_backend_create(&f->config, &f->layout, &f->train, &f->test, rows, chunks);
  b->set_state(b, f->params, f->zeros, f->zeros);
  return b;
}

/* The training loop's step sequence; losses[step] = the step's mean relaxed loss when read_every
 * is 1, metrics summed into *total. */
static void train_steps(fixture *f, gsvae_backend *b, long steps, int read_every, double *losses,
                        double *unrelaxed, gsvae_metric_sums *total) {
  memset(total, 0, sizeof *total);
  for (long step = 0; step < steps; step++) {
    gsvae_step s = make_step(f, step);
    if (s.batch_start == 0) {
      gsvae_epoch_permutation(f->order, TRAIN_IMAGES, f->config.train_seed, s.epoch);
      b->begin_epoch(b, s.epoch, f->order);
    }
    b->forward_backward(b, &s);
    b->update(b, &s);
    if ((step + 1) % read_every == 0 || step + 1 == steps) {
      gsvae_metric_sums sums;
      b->read_metrics(b, &sums);
      if (losses) losses[step] = sums.relaxed / sums.samples;
      if (unrelaxed) unrelaxed[step] = sums.unrelaxed / sums.samples;
      total->relaxed += sums.relaxed, total->bce += sums.bce, total->kl += sums.kl;
      total->unrelaxed += sums.unrelaxed, total->samples += sums.samples;
      total->steps += sums.steps, total->skipped += sums.skipped;
      total->tau = sums.tau; /* tau.learn: the latest */
    }
  }
}

static void expect(bool ok, const char *what, double value, double limit) {
  printf("%s %-40s %.3e (limit %.1e)\n", ok ? "ok  " : "FAIL", what, value, limit);
  if (!ok) failures++;
}

static double relative(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-30); }

/* ---- one_step ---- */

/* Each gradient tensor's relative L2 distance, CPU against GPU, within `limit`; sf's baseline state
 * has a gradient of exactly 0 on both. */
static void one_step_case(estimator_case c, gsvae_binarize binarize) {
  printf("-- one step, %s\n", c.label);
  /* fp32 sums in another order: ~1e-7 per operation, 1e-5 leaves room for the depth of the net.
   * sf's gradient weighs each sample by its loss less the baseline: differences of per-sample BCE
   * sums (~500 nats over 784 float terms, about 1e-4 apart when summed in the GPU's order) that are
   * a few nats apart, so its weights, and the encoder's gradient, carry ~1e-5..1e-4 relative;
   * 1e-3 still catches a wrong sample, baseline or sign, which move it by O(1). */
  double limit = c.estimator == GSVAE_ESTIMATOR_SF ? 1e-3 : 1e-5;
  fixture f;
  fixture_init(&f, c, binarize);
  /* one chunk, eager: the reduce buffers hold the whole batch's sums right after forward_backward */
  f.config.train_reduce_chunks = 1;
  f.config.device_graphs = false;
  gsvae_backend *cpu = make_backend(&f, false), *gpu = make_backend(&f, true);
  gsvae_epoch_permutation(f.order, TRAIN_IMAGES, f.config.train_seed, 0);
  gsvae_step s = make_step(&f, 0);
  s.tau = 0.7f;
  size_t count_cpu, count_gpu;
  float *cpu_grads = cpu->reduce_buffer(cpu, &count_cpu);
  gsvae_backend *both[2] = {cpu, gpu};
  for (int i = 0; i < 2; i++) {
    both[i]->begin_epoch(both[i], 0, f.order);
    both[i]->forward_backward(both[i], &s);
  }
  float *gpu_device = gpu->reduce_buffer(gpu, &count_gpu);
  float *gpu_grads = mallocCheck(count_cpu * sizeof(float));
  cudaCheck(cudaDeviceSynchronize());
  cudaCheck(cudaMemcpy(gpu_grads, gpu_device, count_cpu * sizeof(float), cudaMemcpyDeviceToHost));
  if (count_gpu != count_cpu) printf("FAIL reduce buffer lengths %zu (gpu) vs %zu (cpu)\n", count_gpu, count_cpu), failures++;

  const char *metric_names[GSVAE_METRIC_SLOTS] = {"relaxed loss", "bce", "kl", "unrelaxed loss", "samples"};
  for (int m = 0; m < GSVAE_METRIC_SLOTS; m++) {
    size_t at = f.layout.param_count + m;
    expect(relative(gpu_grads[at], cpu_grads[at]) <= 1e-5, metric_names[m], relative(gpu_grads[at], cpu_grads[at]),
           1e-5);
  }
  for (int t = 0; t < gsvae_layout_tensor_count(&f.layout); t++) {
    char name[32];
    int rank;
    size_t shape[2], offset, length;
    gsvae_layout_tensor(&f.layout, t, name, &rank, shape, &offset, &length);
    double diff = 0, norm = 0;
    for (size_t i = 0; i < length; i++) {
      double d = (double)gpu_grads[offset + i] - cpu_grads[offset + i];
      diff += d * d;
      norm += (double)cpu_grads[offset + i] * cpu_grads[offset + i];
    }
    char what[64];
    snprintf(what, sizeof what, "grad %s (relative L2)", name);
    double rel = sqrt(diff) / fmax(sqrt(norm), 1e-30);
    bool state = !strcmp(name, "sf_baseline");
    expect(state ? diff == 0 && norm == 0 : rel <= limit && norm > 0, what, rel, limit);
  }
  double cpu_test[GSVAE_METRIC_SLOTS] = {0}, gpu_test[GSVAE_METRIC_SLOTS] = {0};
  cpu->evaluate(cpu, 0, TEST_IMAGES, cpu_test);
  gpu->evaluate(gpu, 0, TEST_IMAGES, gpu_test);
  expect(relative(gpu_test[GSVAE_METRIC_RELAXED], cpu_test[GSVAE_METRIC_RELAXED]) <= 1e-5, "test loss",
         relative(gpu_test[GSVAE_METRIC_RELAXED], cpu_test[GSVAE_METRIC_RELAXED]), 1e-5);
  free(gpu_grads);
  cpu->destroy(cpu);
  gpu->destroy(gpu);
  fixture_free(&f);
}

static void test_one_step(void) {
  one_step_case((estimator_case){GSVAE_ESTIMATOR_GS, 0, GSVAE_SF_BASELINE_EMA, false, "gs, grey pixels"},
                GSVAE_BINARIZE_NONE);
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
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) one_step_case(cases[i], GSVAE_BINARIZE_DYNAMIC);
}

/* ---- hundred_steps ---- */

static void hundred_steps_case(estimator_case c) {
  enum { STEPS = 100 };
  const double limit = 1e-4; /* float sums in another order, compounded over 100 Adam steps */
  printf("-- 100 steps, %s\n", c.label);
  fixture f;
  fixture_init(&f, c, GSVAE_BINARIZE_DYNAMIC);
  double losses[2][STEPS], unrelaxed[2][STEPS];
  gsvae_metric_sums totals[2];
  for (int cuda = 0; cuda < 2; cuda++) {
    gsvae_backend *b = make_backend(&f, cuda);
    train_steps(&f, b, STEPS, 1, losses[cuda], unrelaxed[cuda], &totals[cuda]);
    b->destroy(b);
  }
  if (c.learn_tau)
    expect(relative(totals[1].tau, totals[0].tau) <= limit && totals[0].tau != 0.7f, "learned tau after 100 steps",
           relative(totals[1].tau, totals[0].tau), limit);
  double worst = 0, worst_unrelaxed = 0;
  for (int s = 0; s < STEPS; s++) {
    worst = fmax(worst, relative(losses[1][s], losses[0][s]));
    worst_unrelaxed = fmax(worst_unrelaxed, relative(unrelaxed[1][s], unrelaxed[0][s]));
  }
  printf("step 1: cpu %.6f gpu %.6f | step 100: cpu %.6f gpu %.6f\n", losses[0][0], losses[1][0], losses[0][STEPS - 1],
         losses[1][STEPS - 1]);
  expect(worst <= limit, "relaxed loss, worst of 100 steps", worst, limit);
  expect(worst_unrelaxed <= limit, "unrelaxed loss, worst of 100 steps", worst_unrelaxed, limit);
  expect(totals[1].skipped == 0 && totals[1].steps == STEPS, "gpu steps counted, none skipped",
         (double)totals[1].skipped, 0);
  fixture_free(&f);
}

static void test_hundred_steps(void) {
  hundred_steps_case((estimator_case){GSVAE_ESTIMATOR_GS, 0, GSVAE_SF_BASELINE_EMA, false, "gs"});
  hundred_steps_case((estimator_case){GSVAE_ESTIMATOR_SF, 2, GSVAE_SF_BASELINE_EMA, false, "sf, 2 samples, moving average"});
  hundred_steps_case((estimator_case){GSVAE_ESTIMATOR_ST, 0, GSVAE_SF_BASELINE_EMA, true, "st, tau.learn"});
}

/* ---- bitwise comparisons of whole runs ---- */

typedef struct {
  float *params, *exp_avg, *exp_avg_sq;
  gsvae_metric_sums total;
} run_result;

static void run_gpu(fixture *f, bool graphs, bool nccl, long steps, run_result *r) {
  f->config.device_graphs = graphs;
  gsvae_backend *b = make_backend(f, true);
  gsvae_comm *comm = NULL;
  if (nccl) comm = gsvae_nccl_comm_create(MPI_COMM_WORLD, gsvae_cuda_backend_stream(b));
  if (nccl) b->attach_comm(b, comm);
  train_steps(f, b, steps, 7, NULL, NULL, &r->total);
  size_t bytes = f->layout.param_count * sizeof(float);
  r->params = mallocCheck(bytes), r->exp_avg = mallocCheck(bytes), r->exp_avg_sq = mallocCheck(bytes);
  b->get_state(b, r->params, r->exp_avg, r->exp_avg_sq);
  if (comm) comm->destroy(comm);
  b->destroy(b);
}

static void expect_same(const fixture *f, const run_result *a, const run_result *b, const char *what) {
  size_t bytes = f->layout.param_count * sizeof(float);
  bool same = !memcmp(a->params, b->params, bytes) && !memcmp(a->exp_avg, b->exp_avg, bytes) &&
              !memcmp(a->exp_avg_sq, b->exp_avg_sq, bytes) && a->total.relaxed == b->total.relaxed &&
              a->total.unrelaxed == b->total.unrelaxed && a->total.samples == b->total.samples &&
              a->total.steps == b->total.steps;
  size_t differing = 0;
  for (size_t i = 0; i < f->layout.param_count; i++) differing += memcmp(a->params + i, b->params + i, sizeof(float)) != 0;
  printf("%s %-40s %zu parameters differ; relaxed sums %.9g vs %.9g\n", same ? "ok  " : "FAIL", what, differing,
         a->total.relaxed, b->total.relaxed);
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
  };
  for (size_t e = 0; e < sizeof cases / sizeof cases[0]; e++) {
    fixture f;
    fixture_init(&f, cases[e], GSVAE_BINARIZE_DYNAMIC);
    run_result eager, graph;
    run_gpu(&f, false, false, 30, &eager);
    run_gpu(&f, true, false, 30, &graph);
    expect_same(&f, &eager, &graph, cases[e].label);
    free_result(&eager);
    free_result(&graph);
    fixture_free(&f);
  }
}

static void test_nccl(void) {
  gsvae_cuda_select_device(MPI_COMM_WORLD);
  fixture f;
  fixture_init(&f, (estimator_case){GSVAE_ESTIMATOR_GS, 0, GSVAE_SF_BASELINE_EMA, false, "gs"}, GSVAE_BINARIZE_DYNAMIC);
  run_result none, attached, attached_eager;
  run_gpu(&f, true, false, 30, &none);
  run_gpu(&f, true, true, 30, &attached);
  run_gpu(&f, false, true, 30, &attached_eager);
  expect_same(&f, &none, &attached, "nccl inside the step graph == none");
  expect_same(&f, &none, &attached_eager, "nccl, eager == none");
  run_result *all[] = {&none, &attached, &attached_eager};
  for (int i = 0; i < 3; i++) free_result(all[i]);
  fixture_free(&f);
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
