/* The CPU backend: parameters, the optimizer's moments and the chunks' partial gradients in host
 * memory; each step gathers a chunk's rows and draws their Gumbel noise from the counter-based
 * generator, runs model_math.c on it, and update() folds the chunks over ranks and runs the
 * optimizer (Adam or RAdam) on this rank's shard.
 * With train.deterministic the rank's cores work on whole chunks side by side, each with
 * single-threaded products, so that neither the ranks nor the threads change the bits. */
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "model/backend.h"
#include "cpu/blas.h"
#include "core/check.h"
#include "core/chunks.h"
#include "comm/comm.h"
#include "cpu/model_math.h"
#include "model/estimator_settings.h"
#include "cpu/threads.h"
#include "core/noise.h"
#include "cpu/noise_rows.h"
#include "cpu/cpu_backend.h"

/* What one thread needs to compute a chunk: the model's workspace and the chunk's rows and noise. */
typedef struct {
  cpu_model *model;
  float *x, *noise, *gumbel_unrelaxed;
} chunk_worker;

/* Threads a rank computes chunks on, at most (more would wait: chunks are few). */
#define GSVAE_MAX_WORKERS 16

typedef struct {
  gsvae_backend base;            /* first, so that the vtable's pointer is the backend's */
  gsvae_config config;
  gsvae_layout layout;
  const gsvae_dataset *train, *test;
  int max_batch;                 /* rows the workspace holds: the largest chunk or GSVAE_EVAL_BLOCK */
  int worker_count;              /* threads computing chunks side by side (train.deterministic), else 1 */
  chunk_worker workers[GSVAE_MAX_WORKERS];
  gsvae_comm *comm;              /* NULL: one rank alone */
  float *params, *exp_avg, *exp_avg_sq;
  int max_partials;
  float *partials;               /* max_partials buffers of param_count gradients then the metric slots */
  float **partial_starts;        /* where each of them starts: the ordered fold's sources */
  bool shared_buffers;           /* params and partials are the communicator's (shared_floats) */
  int *partial_counts;           /* per rank, for the reduction */
  gsvae_estimator_settings estimator;
  size_t noise_width;            /* the estimator's draws per sample (estimator_settings.h) */
  float *gumbel;                 /* evaluation's noise (rows in workers[0].x) */
  uint32_t *order;               /* this epoch's order of the training set */
  gsvae_loss_sums sums;          /* since the last read_metrics */
  long bad_streak;               /* non-finite steps in a row, across reads */
} cpu_backend;

static void cpu_set_state(gsvae_backend *base, const float *params, const float *exp_avg, const float *exp_avg_sq) {
  cpu_backend *backend = (cpu_backend *)base;
  size_t bytes = backend->layout.param_count * sizeof(float);
  if (params && backend->shared_buffers) { /* one copy for the node: each rank writes its shard */
    gsvae_comm *comm = backend->comm;
    size_t count = backend->layout.param_count, start = gsvae_shard_start(count, comm->size, comm->rank);
    size_t end = gsvae_shard_end(count, comm->size, comm->rank, count);
    memcpy(backend->params + start, params + start, (end - start) * sizeof(float));
    comm->allgather(comm, backend->params, count);
  } else if (params) {
    memcpy(backend->params, params, bytes);
  }
  if (exp_avg) memcpy(backend->exp_avg, exp_avg, bytes);
  if (exp_avg_sq) memcpy(backend->exp_avg_sq, exp_avg_sq, bytes);
}

static void cpu_get_state(gsvae_backend *base, float *params, float *exp_avg, float *exp_avg_sq) {
  cpu_backend *backend = (cpu_backend *)base;
  size_t bytes = backend->layout.param_count * sizeof(float);
  if (params) memcpy(params, backend->params, bytes);
  if (exp_avg) memcpy(exp_avg, backend->exp_avg, bytes);
  if (exp_avg_sq) memcpy(exp_avg_sq, backend->exp_avg_sq, bytes);
}

static void cpu_begin_epoch(gsvae_backend *base, long epoch, const uint32_t *order) {
  cpu_backend *backend = (cpu_backend *)base;
  memcpy(backend->order, order, (size_t)backend->train->count * sizeof(uint32_t));
}

/* With a communicator that offers shared memory, the parameters and partials move into it: the
 * fold reads the other ranks' partials where they lie and the all-gather copies nothing. */
static void cpu_attach_comm(gsvae_backend *base, gsvae_comm *comm) {
  cpu_backend *backend = (cpu_backend *)base;
  backend->comm = comm;
  free(backend->partial_counts);
  backend->partial_counts = callocCheck(comm ? (size_t)comm->size : 1, sizeof(int));
  if (!comm || !comm->shared_floats || backend->shared_buffers) return;
  size_t params = backend->layout.param_count, stride = params + GSVAE_METRIC_SLOTS;
  free(backend->params);
  free(backend->partials);
  backend->params = comm->shared_floats(comm, params, true);
  backend->partials = comm->shared_floats(comm, (size_t)backend->max_partials * stride, false);
  for (int i = 0; i < backend->max_partials; i++) backend->partial_starts[i] = backend->partials + (size_t)i * stride;
  backend->shared_buffers = true;
}

/* Chunks that begin the fold order (chunk 0 first), or a rank's chunk in the default mode (one a
 * rank), fold into one partial as they are computed; in the deterministic mode another rank's
 * chunks each keep their own for the fold over ranks. */
static bool folds_locally(const gsvae_config *config, int first_chunk) {
  return !config->train_deterministic || first_chunk == 0;
}

typedef struct {
  cpu_backend *backend;
  chunk_worker *worker;
  const gsvae_step *step;
  int first_row;
} gather_task;

static void gather_range(void *context, size_t begin, size_t end) {
  gather_task *task = context;
  cpu_backend *backend = task->backend;
  chunk_worker *worker = task->worker;
  const gsvae_step *step = task->step;
  const gsvae_config *config = &backend->config;
  int dim = backend->layout.input_dim;
  uint32_t latent_width = (uint32_t)(backend->layout.latents * backend->layout.categories);
  for (size_t i = begin; i < end; i++) {
    long position = step->batch_start + task->first_row + (long)i;
    gsvae_dataset_row(backend->train, (int)backend->order[position], config->data_binarize, config->train_seed,
                      step->step, worker->x + (size_t)i * dim);
    gsvae_estimator_fill_noise(worker->noise + i * backend->noise_width, &backend->estimator, latent_width,
                               config->train_seed, (uint64_t)step->step, (uint64_t)position);
    if (config->train_unrelaxed)
      gsvae_fill_gumbel(worker->gumbel_unrelaxed + (size_t)i * latent_width, latent_width, config->train_seed,
                        GSVAE_NOISE_GUMBEL_UNRELAXED, (uint64_t)step->step, (uint64_t)position);
  }
}

/* The rows of chunk `chunk` of the step into x and the noise buffers, row 0 first, split over the
 * rank's threads; noise is keyed by the sample's place in the epoch's order, not by this rank's
 * slice, nor by the thread that draws it. */
static void gather_rows(cpu_backend *backend, chunk_worker *worker, const gsvae_step *step, int first_row, int rows) {
  gather_task task = {backend, worker, step, first_row};
  gsvae_parallel_ranges((size_t)rows, 8, gather_range, &task);
}

/* Chunk i of this rank's step into `partial` (added to it when accumulate), with worker's buffers:
 * its own products (M and K = the chunk's rows, fixed by the global batch), so that a chunk's bits
 * do not depend on which rank or thread computes it. */
static void compute_chunk(cpu_backend *backend, chunk_worker *worker, const gsvae_step *step, int i, float *partial,
                          bool accumulate) {
  const gsvae_config *config = &backend->config;
  size_t params = backend->layout.param_count;
  int first_row = gsvae_chunk_start(step->global_count, step->chunk_count, step->first_chunk + i);
  int rows = gsvae_chunk_start(step->global_count, step->chunk_count, step->first_chunk + i + 1) - first_row;
  if (rows > backend->max_batch)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "cpu backend: a chunk of %d samples exceeds the %d it was made for", rows,
                backend->max_batch);
  gather_rows(backend, worker, step, first_row, rows);
  double sums[GSVAE_METRIC_SLOTS] = {0};
  cpu_model_forward_backward(worker->model, backend->params, partial, worker->x, rows, worker->noise,
                             &backend->estimator, step->tau, config->train_unrelaxed ? worker->gumbel_unrelaxed : NULL,
                             accumulate, sums);
  for (int s = 0; s < GSVAE_METRIC_SLOTS; s++) /* float adds in chunk order, as the fold over ranks */
    partial[params + s] = accumulate ? partial[params + s] + (float)sums[s] : (float)sums[s];
}

typedef struct {
  cpu_backend *backend;
  const gsvae_step *step;
  size_t stride;
} chunk_job;

/* Worker w takes chunks w, w + workers, ..., each into its own partial buffer. */
static void compute_chunks_of_worker(void *context, int w) {
  chunk_job *job = context;
  if (w > 0) gsvae_blas_set_threads(1); /* a new thread starts with the library's default (oneDNN) */
  for (int i = w; i < job->step->local_chunks; i += job->backend->worker_count)
    compute_chunk(job->backend, &job->backend->workers[w], job->step, i, job->backend->partials + (size_t)i * job->stride,
                  false);
}

/* Worker w folds its range of every element into the first buffer, in chunk order: the ordered
 * fold, whose bits beta = 1 accumulation also makes (tests/blas_rows.c). */
static void fold_range_of_worker(void *context, int w) {
  chunk_job *job = context;
  size_t first = job->stride * w / job->backend->worker_count, end = job->stride * (w + 1) / job->backend->worker_count;
  gsvae_fold_in_order(job->backend->partials + first, (const float *const *)job->backend->partial_starts,
                      job->step->local_chunks, first, end - first);
}

static void cpu_forward_backward(gsvae_backend *base, const gsvae_step *step) {
  cpu_backend *backend = (cpu_backend *)base;
  size_t stride = backend->layout.param_count + GSVAE_METRIC_SLOTS;
  bool fold = folds_locally(&backend->config, step->first_chunk);
  bool side_by_side = backend->worker_count > 1 && step->local_chunks > 1;
  if ((side_by_side || !fold) && step->local_chunks > backend->max_partials)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "cpu backend: %d chunks exceed the %d partial buffers it was made for",
                step->local_chunks, backend->max_partials);
  /* no rows: the default mode still sends its one partial, zero; the deterministic mode counts none */
  if (step->local_chunks == 0)
    memset(backend->partials, 0, stride * sizeof(float));
  if (!side_by_side) {
    for (int i = 0; i < step->local_chunks; i++)
      compute_chunk(backend, &backend->workers[0], step, i, backend->partials + (fold ? 0 : (size_t)i) * stride,
                    fold && i > 0);
    return;
  }
  chunk_job job = {backend, step, stride};
  gsvae_parallel_run(backend->worker_count, compute_chunks_of_worker, &job);
  if (fold) gsvae_parallel_run(backend->worker_count, fold_range_of_worker, &job);
}

static float *cpu_reduce_buffer(gsvae_backend *base, size_t *count) {
  cpu_backend *backend = (cpu_backend *)base;
  *count = backend->layout.param_count + GSVAE_METRIC_SLOTS;
  return backend->partials;
}

/* A float is inf or NaN when its exponent bits are all ones; an integer OR vectorizes. */
GSVAE_WIDE_LOOP
static bool all_finite(const float *values, size_t count) {
  uint32_t bad = 0;
  for (size_t i = 0; i < count; i++) {
    uint32_t bits;
    memcpy(&bits, values + i, sizeof bits);
    bad |= (bits & 0x7f800000u) == 0x7f800000u;
  }
  return !bad;
}

/* The finite check and the optimizer over a shard, split over the rank's threads: the check ORs
 * each range's verdict, and the update is element-wise, so neither depends on the split. */
typedef struct {
  const float *values;
  atomic_bool bad;
} finite_task;

static void finite_range(void *context, size_t begin, size_t end) {
  finite_task *task = context;
  if (!all_finite(task->values + begin, end - begin)) atomic_store(&task->bad, true);
}

typedef struct {
  float *params, *exp_avg, *exp_avg_sq;
  const float *grads;
  const gsvae_optimizer_step *scalars;
  double grad_divisor;
} optimizer_task;

static void optimizer_range(void *context, size_t begin, size_t end) {
  optimizer_task *task = context;
  cpu_optimizer_update(task->params + begin, task->exp_avg + begin, task->exp_avg_sq + begin, task->grads + begin,
                       end - begin, task->scalars, task->grad_divisor);
}

/* Elements a range of the finite check or the update takes at least. */
#define MIN_UPDATE_RANGE 65536

/* How many partials each rank sends into the reduction of this step. */
static void count_partials(cpu_backend *backend, const gsvae_step *step, int ranks) {
  for (int q = 0; q < ranks; q++) {
    int first = gsvae_rank_first_chunk(step->chunk_count, ranks, q);
    int chunks = gsvae_rank_first_chunk(step->chunk_count, ranks, q + 1) - first;
    backend->partial_counts[q] = !backend->config.train_deterministic ? 1
                                 : chunks == 0                         ? 0
                                 : folds_locally(&backend->config, first) ? 1
                                                                          : chunks;
  }
}

static void cpu_update(gsvae_backend *base, const gsvae_step *step) {
  cpu_backend *backend = (cpu_backend *)base;
  const gsvae_config *config = &backend->config;
  gsvae_comm *comm = backend->comm;
  int ranks = comm ? comm->size : 1, rank = comm ? comm->rank : 0;
  size_t params = backend->layout.param_count, stride = params + GSVAE_METRIC_SLOTS;
  if (comm) {
    count_partials(backend, step, ranks);
    comm->reduce_scatter(comm, backend->partials, backend->partial_counts, stride, params);
  }
  /* This rank's shard of the summed gradients, the last one with the metric slots. */
  size_t start = gsvae_shard_start(params, ranks, rank);
  size_t end = gsvae_shard_end(params, ranks, rank, stride);
  const float *grads = backend->partials;
  /* [0]: ranks that saw a non-finite value; then the metric slots, from the last rank only, so
   * that their sum is exact in any order */
  float agreed[1 + GSVAE_METRIC_SLOTS] = {0};
  finite_task finite = {.values = grads + start};
  atomic_init(&finite.bad, false);
  gsvae_parallel_ranges(end - start, MIN_UPDATE_RANGE, finite_range, &finite);
  agreed[0] = atomic_load(&finite.bad) ? 1.0f : 0.0f;
  if (rank + 1 == ranks) memcpy(agreed + 1, grads + params, GSVAE_METRIC_SLOTS * sizeof(float));
  if (comm) comm->allreduce_sum(comm, agreed, 1 + GSVAE_METRIC_SLOTS);
  const float *metrics = agreed + 1;
  if (!gsvae_loss_sums_add_step(&backend->sums, agreed)) {
    backend->bad_streak++;
    return;
  }
  backend->bad_streak = 0;
  size_t update_end = end < params ? end : params;
  gsvae_optimizer_step scalars = gsvae_optimizer_step_at(config, step->step + 1);
  optimizer_task update = {backend->params + start, backend->exp_avg + start, backend->exp_avg_sq + start,
                           grads + start, &scalars, (double)step->global_count};
  gsvae_parallel_ranges(update_end - start, MIN_UPDATE_RANGE, optimizer_range, &update);
  /* After this step's gradient used the old value, by the rank whose shard holds it (the
   * all-gather spreads it): with shared parameters every rank doing it would apply it N times. Its
   * two floats sit below 16, in one shard (shard starts are multiples of 16). */
  size_t baseline = backend->layout.sf_baseline_offset;
  if (backend->layout.has_sf_baseline && baseline >= start && baseline < update_end)
    gsvae_sf_baseline_update(backend->params + baseline, metrics[GSVAE_METRIC_BCE] / metrics[GSVAE_METRIC_SAMPLES],
                             config->train_sf_decay);
  if (comm) comm->allgather(comm, backend->params, params);
}

/* The streak of non-finite steps carries over reads: it may span a log interval. */
static void cpu_read_metrics(gsvae_backend *base, gsvae_metric_read *read) {
  cpu_backend *backend = (cpu_backend *)base;
  *read = (gsvae_metric_read){.sums = backend->sums, .bad_streak = backend->bad_streak};
  if (backend->layout.has_log_tau) read->tau = cpu_learned_tau(&backend->layout, backend->params);
  memset(&backend->sums, 0, sizeof backend->sums);
}

static void cpu_evaluate(gsvae_backend *base, int start, int count, double *sums) {
  cpu_backend *backend = (cpu_backend *)base;
  const gsvae_config *config = &backend->config;
  int dim = backend->layout.input_dim;
  uint32_t latent_width = (uint32_t)(backend->layout.latents * backend->layout.categories);
  for (int chunk = 0; chunk < count; chunk += backend->max_batch) {
    int rows = count - chunk < backend->max_batch ? count - chunk : backend->max_batch;
    for (int i = 0; i < rows; i++) {
      int index = start + chunk + i;
      /* static binarization already happened on load; dynamic draws the step-0 sample */
      gsvae_dataset_row(backend->test, index, config->data_binarize, config->train_seed, 0,
                        backend->workers[0].x + (size_t)i * dim);
      gsvae_fill_gumbel(backend->gumbel + (size_t)i * latent_width, latent_width, config->train_seed,
                        GSVAE_NOISE_EVAL, 0, (uint64_t)index);
    }
    cpu_model_unrelaxed_loss(backend->workers[0].model, backend->params, backend->workers[0].x, rows, backend->gumbel,
                             sums);
  }
}

static void cpu_destroy(gsvae_backend *base) {
  cpu_backend *backend = (cpu_backend *)base;
  for (int w = 0; w < backend->worker_count; w++) {
    chunk_worker *worker = &backend->workers[w];
    cpu_model_free(worker->model);
    free(worker->x);
    free(worker->noise);
    free(worker->gumbel_unrelaxed);
  }
  if (!backend->shared_buffers) {
    free(backend->params);
    free(backend->partials);
  }
  free(backend->exp_avg);
  free(backend->exp_avg_sq);
  free(backend->partial_starts);
  free(backend->partial_counts);
  free(backend->gumbel);
  free(backend->order);
  free(backend);
}

gsvae_backend *gsvae_cpu_backend_create(const gsvae_config *config, const gsvae_layout *layout,
                                        const gsvae_dataset *train, const gsvae_dataset *test, int max_rows,
                                        int max_local_chunks) {
  cpu_backend *backend = callocCheck(1, sizeof *backend);
  backend->base = (gsvae_backend){
      .name = "cpu",
      .set_state = cpu_set_state,
      .get_state = cpu_get_state,
      .begin_epoch = cpu_begin_epoch,
      .attach_comm = cpu_attach_comm,
      .forward_backward = cpu_forward_backward,
      .reduce_buffer = cpu_reduce_buffer,
      .update = cpu_update,
      .read_metrics = cpu_read_metrics,
      .evaluate = cpu_evaluate,
      .destroy = cpu_destroy,
  };
  bool bf16 = config->device_precision == GSVAE_PRECISION_BF16;
  if (bf16) {
    const char *missing = gsvae_blas_bf16_missing();
    if (missing) gsvae_abort(GSVAE_EXIT_USAGE, "device.precision=bf16 on the CPU: %s; use device.precision=fp32", missing);
    backend->base.name = "cpu (bf16)";
  }
  backend->config = *config;
  backend->layout = *layout;
  backend->train = train;
  backend->test = test;
  backend->max_batch = max_rows > GSVAE_EVAL_BLOCK ? max_rows : GSVAE_EVAL_BLOCK;
  backend->max_partials = max_local_chunks > 1 ? max_local_chunks : 1;
  /* A threaded GEMM splits a product by the thread count, and its edge kernels round otherwise
   * than its main ones (tests/blas_rows.c): one thread per chunk keeps its bits fixed, and the
   * threads the rank was given compute chunks side by side instead. */
  backend->worker_count = 1;
  if (config->train_deterministic) {
    int threads = gsvae_blas_get_threads(), chunks = backend->max_partials;
    backend->worker_count = threads < chunks ? threads : chunks;
    if (backend->worker_count > GSVAE_MAX_WORKERS) backend->worker_count = GSVAE_MAX_WORKERS;
    if (backend->worker_count < 1) backend->worker_count = 1;
    gsvae_blas_set_threads(1);
  }
  size_t params = layout->param_count, latent_width = (size_t)layout->latents * layout->categories;
  backend->estimator = gsvae_estimator_settings_of(config);
  backend->noise_width = gsvae_estimator_noise_width(&backend->estimator, (int)latent_width);
  for (int w = 0; w < backend->worker_count; w++) {
    chunk_worker *worker = &backend->workers[w];
    worker->model = cpu_model_create(layout, backend->max_batch);
    if (bf16) cpu_model_use_bf16_products(worker->model);
    worker->x = mallocCheck((size_t)backend->max_batch * layout->input_dim * sizeof(float));
    worker->noise = mallocCheck((size_t)backend->max_batch * backend->noise_width * sizeof(float));
    worker->gumbel_unrelaxed = mallocCheck((size_t)backend->max_batch * latent_width * sizeof(float));
  }
  backend->params = callocCheck(params, sizeof(float));
  backend->exp_avg = callocCheck(params, sizeof(float));
  backend->exp_avg_sq = callocCheck(params, sizeof(float));
  backend->partials = callocCheck((size_t)backend->max_partials * (params + GSVAE_METRIC_SLOTS), sizeof(float));
  backend->partial_starts = mallocCheck((size_t)backend->max_partials * sizeof(float *));
  for (int i = 0; i < backend->max_partials; i++)
    backend->partial_starts[i] = backend->partials + (size_t)i * (params + GSVAE_METRIC_SLOTS);
  backend->gumbel = mallocCheck((size_t)backend->max_batch * latent_width * sizeof(float));
  backend->order = callocCheck(train->count > 0 ? (size_t)train->count : 1, sizeof(uint32_t));
  return &backend->base;
}
