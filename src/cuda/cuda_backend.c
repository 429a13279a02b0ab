/* The CUDA backend: the model's flat buffers, the training set and the epoch order resident on
 * the GPU; the step chunk by chunk as cuBLAS products plus the fused kernels of kernels.cu, the
 * ordered reduction over the communicator (NCCL, or MPI through pinned memory) and the optimizer on
 * this rank's shard, eager or captured once per batch size as one CUDA graph and replayed (eager
 * when the communicator waits on the host; the weight gradients and the unrelaxed decoder on a
 * second stream beside the chain of dependent launches); metrics read back only in read_metrics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model/backend.h"
#include "core/chunks.h"
#include "comm/comm.h"
#include "cuda/cuda.h"
#include "model/estimator_settings.h"
#include "model/optimizer_step.h"
#include "core/noise.h"
#include "cuda/cuda_util.h"
#include "cuda/kernels.h"

#define GRAPH_CACHE 4 /* batch sizes seen: the full one and an epoch's short last batch */
#define EVAL_ROWS 1024 /* evaluation chunk at least: one host wait per chunk */

typedef struct {
  int global_count;           /* the key: a rank's chunks follow from the global batch's size */
  cudaGraphExec_t exec;       /* the whole step: every chunk, the reduction, the optimizer, the all-gather */
} step_graph;

typedef struct {
  gsvae_backend base;
  gsvae_config config;
  gsvae_layout layout;
  int max_batch, train_count, test_count, dim;
  int workspace_rows;        /* max_batch, or more for evaluation chunks */
  size_t reduce_count;       /* param_count + GSVAE_METRIC_SLOTS */
  int max_partials;          /* the most chunks a rank computes */
  cudaStream_t stream;
  cublasHandle_t cublas;
  /* Work off the step's critical path (the weight gradients, the unrelaxed decoder) runs on a
   * second stream beside it, with its own cuBLAS handle and workspace; forked from and joined to
   * the stream by the two events, also inside a captured graph. */
  cudaStream_t side_stream;
  cublasHandle_t side_cublas;
  cudaEvent_t fork, join;
  cublasComputeType_t compute;
  gsvae_cuda_optimizer optimizer;
  gsvae_cuda_estimator estimator;
  void *cublas_workspace, *side_workspace;
  gsvae_comm *comm;          /* attached NCCL communicator, or NULL: one rank alone */
  int *partial_counts;       /* host, per rank: the chunks each sends into the reduction */

  float *params, *exp_avg, *exp_avg_sq;
  float *partials;           /* a chunk's gradients then its metric slots (reduce_count floats) each:
                              * every chunk its own (cuBLAS's beta = 1 is not relied on to fold) */
  float *chunk_grads;        /* the partial of the chunk being enqueued */
  float *agreed;             /* [0] ranks that saw a non-finite value, then the metric slots */
  uint8_t *train_pixels, *test_pixels;
  uint32_t *order;
  float *x;
  float *act[GSVAE_MAX_LAYERS], *dact[GSVAE_MAX_LAYERS], *unrelaxed_act[GSVAE_MAX_LAYERS];
  float *y, *z, *dz, *dkl, *kl_groups, *bce_rows, *bce_unrelaxed_rows, *eval_slots;
  float *tau_terms;          /* tau.learn: each (row, group)'s derivative in log tau, else NULL */
  int samples;               /* one-hot samples decoded per input: sf's S, else 1 */
  int *choice;
  gsvae_cuda_step *steps;    /* one per local chunk; steps[0] also carries the optimizer's values */
  gsvae_cuda_step *step, *eval_step; /* step: the chunk being enqueued */
  gsvae_cuda_metrics *metrics;
  gsvae_cuda_metrics *metrics_host; /* pinned */
  float *log_tau_host;              /* pinned: a copy to pageable memory would block outside the polled wait */
  float *eval_slots_host;           /* pinned */

  step_graph graphs[GRAPH_CACHE];
  int graph_count;
  int capturing;                    /* a whole-step capture is open between forward_backward and update */
  gsvae_step pending;               /* the step forward_backward set up */
} cuda_backend;

static cuda_backend *as_cuda(gsvae_backend *backend) { return (cuda_backend *)backend; }

static void *device_alloc(size_t bytes) {
  void *p = NULL;
  cudaCheck(cudaMalloc(&p, bytes ? bytes : 1));
  return p;
}

/* Row-major products through column-major cuBLAS: a row-major M x N matrix is its N x M
 * column-major transpose, so each product is computed transposed. */
static void gemm(cuda_backend *b, cublasHandle_t cublas, cublasOperation_t op_a, cublasOperation_t op_b, int m, int n,
                 int k, const float *A, int lda, const float *B, int ldb, float *C, int ldc) {
  const float one = 1.0f, zero = 0.0f;
  cublasCheck(cublasGemmEx(cublas, op_a, op_b, m, n, k, &one, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb, &zero, C,
                           CUDA_R_32F, ldc, b->compute, CUBLAS_GEMM_DEFAULT));
}

/* Y (rows x out) = X (rows x in) W^T, W out x in. */
static void linear_forward(cuda_backend *b, cublasHandle_t cublas, int layer, const float *X, float *Y, int rows) {
  int in = b->layout.in_features[layer], out = b->layout.out_features[layer];
  gemm(b, cublas, CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, b->params + b->layout.weight_offset[layer], in, X, in, Y,
       out);
}

/* dX (rows x in) = dY (rows x out) W. */
static void linear_backward_input(cuda_backend *b, int layer, const float *dY, float *dX, int rows) {
  int in = b->layout.in_features[layer], out = b->layout.out_features[layer];
  gemm(b, b->cublas, CUBLAS_OP_N, CUBLAS_OP_N, in, rows, out, b->params + b->layout.weight_offset[layer], in, dY, out,
       dX, in);
}

/* The side stream waits for what the stream has enqueued so far. */
static void fork_side(cuda_backend *b) {
  cudaCheck(cudaEventRecord(b->fork, b->stream));
  cudaCheck(cudaStreamWaitEvent(b->side_stream, b->fork, 0));
}

/* The stream waits for what the side stream has enqueued so far. */
static void join_side(cuda_backend *b) {
  cudaCheck(cudaEventRecord(b->join, b->side_stream));
  cudaCheck(cudaStreamWaitEvent(b->stream, b->join, 0));
}

/* dW (out x in) = dY^T X; db = column sums of dY (fixed order, no atomics).
 * On the side stream, from dY as the stream has it now: nothing later on the stream writes dY or X
 * before the chunk's join. */
static void linear_backward_params(cuda_backend *b, int layer, const float *dY, const float *X, int rows) {
  int in = b->layout.in_features[layer], out = b->layout.out_features[layer];
  fork_side(b);
  gemm(b, b->side_cublas, CUBLAS_OP_N, CUBLAS_OP_T, in, out, rows, X, in, dY, out,
       b->chunk_grads + b->layout.weight_offset[layer], in);
  gsvae_launch_column_sums(b->chunk_grads + b->layout.bias_offset[layer], dY, rows, out, b->side_stream);
}

static int layer_relu(const gsvae_layout *layout, int layer) {
  if (layer == layout->layer_count - 1) return 0;
  return layer != layout->encoder_layers - 1 || layout->logits_relu;
}

static const float *layer_input(cuda_backend *b, int layer) {
  if (layer == 0) return b->x;
  if (layer == b->layout.encoder_layers) return b->z;
  return b->act[layer - 1];
}

static void encoder_forward(cuda_backend *b, int rows) {
  for (int l = 0; l < b->layout.encoder_layers; l++) {
    linear_forward(b, b->cublas, l, layer_input(b, l), b->act[l], rows);
    gsvae_launch_bias_act(b->act[l], b->params + b->layout.bias_offset[l], rows, b->layout.out_features[l],
                          layer_relu(&b->layout, l), b->stream);
  }
}

/* The unrelaxed decoder from the one-hot choices: the first layer is a gather-sum of weight
 * columns; its BCE per row into bce_unrelaxed_rows. On `stream` with `cublas` bound to it. */
static void unrelaxed_decoder(cuda_backend *b, cudaStream_t stream, cublasHandle_t cublas, int rows) {
  const gsvae_layout *layout = &b->layout;
  int first = layout->encoder_layers;
  gsvae_launch_onehot_linear(b->unrelaxed_act[first], b->params + layout->weight_offset[first],
                             b->params + layout->bias_offset[first], b->choice, rows, layout->out_features[first],
                             layout->latents, layout->categories, layer_relu(layout, first), stream);
  for (int l = first + 1; l < layout->layer_count; l++) {
    linear_forward(b, cublas, l, b->unrelaxed_act[l - 1], b->unrelaxed_act[l], rows);
    gsvae_launch_bias_act(b->unrelaxed_act[l], b->params + layout->bias_offset[l], rows, layout->out_features[l],
                          layer_relu(layout, l), stream);
  }
  gsvae_launch_bce(b->unrelaxed_act[layout->layer_count - 1], b->x, NULL, b->bce_unrelaxed_rows, rows, rows, 1,
                   layout->input_dim, stream);
}

/* Forward and backward of one chunk of `rows` samples (b->step, into b->chunk_grads), enqueued on
 * the stream; its products have the chunk's shape whatever the rank, so its bits do not depend on
 * the number of ranks. Nothing here waits for the GPU. */
static void enqueue_chunk(cuda_backend *b, int rows) {
  const gsvae_layout *layout = &b->layout;
  const gsvae_config *config = &b->config;
  int n = layout->layer_count, E = layout->encoder_layers, L = layout->latents, K = layout->categories;
  int decoded = rows * b->samples; /* the decoder's rows: sample s of input r is row s rows + r */
  bool score_function = config->train_estimator == GSVAE_ESTIMATOR_SF;
  gsvae_launch_gather(b->x, b->train_pixels, b->order, b->step, rows, b->dim,
                      config->data_binarize == GSVAE_BINARIZE_DYNAMIC, config->train_seed, b->stream);
  encoder_forward(b, rows);
  if (layout->has_log_tau) gsvae_launch_learned_tau(b->step, b->params + layout->log_tau_offset, b->stream);
  gsvae_launch_latent_forward(b->act[E - 1], b->y, b->z, b->dkl, b->kl_groups,
                              config->train_unrelaxed ? b->choice : NULL, b->step, rows, L, K, config->train_seed,
                              GSVAE_NOISE_GUMBEL, GSVAE_NOISE_GUMBEL_UNRELAXED, b->estimator, b->stream);
  if (config->train_unrelaxed) { /* beside the relaxed pass: it reads the choices, x and the parameters */
    fork_side(b);
    unrelaxed_decoder(b, b->side_stream, b->side_cublas, rows);
  }
  for (int l = E; l < n; l++) {
    linear_forward(b, b->cublas, l, layer_input(b, l), b->act[l], decoded);
    gsvae_launch_bias_act(b->act[l], b->params + layout->bias_offset[l], decoded, layout->out_features[l],
                          layer_relu(layout, l), b->stream);
  }
  gsvae_launch_bce(b->act[n - 1], b->x, b->dact[n - 1], b->bce_rows, decoded, rows, b->samples, layout->input_dim,
                   b->stream);
  for (int l = n - 1; l >= E; l--) {
    linear_backward_params(b, l, b->dact[l], layer_input(b, l), decoded);
    if (l == E && score_function) break; /* sf needs no dL/dz */
    float *d_input = l == E ? b->dz : b->dact[l - 1];
    linear_backward_input(b, l, b->dact[l], d_input, decoded);
    if (l > E) gsvae_launch_relu_backward(d_input, b->act[l - 1], (size_t)decoded * layout->in_features[l], b->stream);
  }
  if (score_function)
    gsvae_launch_sf_backward(b->dact[E - 1], b->y, b->z, b->dkl, b->act[E - 1], layout->logits_relu, b->bce_rows,
                             layout->has_sf_baseline ? b->params + layout->sf_baseline_offset : NULL, rows, L, K,
                             b->estimator, b->stream);
  else
    gsvae_launch_latent_backward(b->dact[E - 1], b->tau_terms, b->dz, b->y, b->z, b->dkl, b->act[E - 1],
                                 layout->logits_relu, b->step, rows, L, K, config->train_seed, b->estimator,
                                 b->stream);
  if (layout->has_log_tau) gsvae_launch_sum(b->chunk_grads + layout->log_tau_offset, b->tau_terms, rows * L, b->stream);
  /* state, not a trained parameter: the optimizer sees a zero gradient, as on the CPU */
  if (layout->has_sf_baseline)
    cudaCheck(cudaMemsetAsync(b->chunk_grads + layout->sf_baseline_offset, 0, 2 * sizeof(float), b->stream));
  for (int l = E - 1; l >= 0; l--) {
    linear_backward_params(b, l, b->dact[l], layer_input(b, l), rows);
    if (l == 0) break;
    linear_backward_input(b, l, b->dact[l], b->dact[l - 1], rows);
    gsvae_launch_relu_backward(b->dact[l - 1], b->act[l - 1], (size_t)rows * layout->in_features[l], b->stream);
  }
  join_side(b); /* the next chunk reuses the activations and the unrelaxed rows */
  gsvae_launch_step_metrics(b->chunk_grads + layout->param_count, b->bce_rows, b->kl_groups,
                            config->train_unrelaxed ? b->bce_unrelaxed_rows : NULL, rows, b->samples, L, b->stream);
}

static void enqueue_chunks(cuda_backend *b, const gsvae_step *s) {
  for (int i = 0; i < s->local_chunks; i++) {
    int first = gsvae_chunk_start(s->global_count, s->chunk_count, s->first_chunk + i);
    int rows = gsvae_chunk_start(s->global_count, s->chunk_count, s->first_chunk + i + 1) - first;
    b->step = b->steps + i;
    b->chunk_grads = b->partials + (size_t)i * b->reduce_count;
    enqueue_chunk(b, rows);
  }
}

/* The chunks' partials folded in chunk order (over ranks by the communicator, else here), the
 * finite check agreed by every rank, the optimizer on this rank's shard, the parameters' all-gather and
 * the metric sums: the same semantics as cpu_backend.c's update. */
static void enqueue_update(cuda_backend *b, const gsvae_step *s) {
  size_t params = b->layout.param_count, count = b->reduce_count;
  int ranks = b->comm ? b->comm->size : 1, rank = b->comm ? b->comm->rank : 0;
  if (b->comm) {
    for (int q = 0; q < ranks; q++)
      b->partial_counts[q] = gsvae_rank_first_chunk(s->chunk_count, ranks, q + 1) -
                             gsvae_rank_first_chunk(s->chunk_count, ranks, q);
    b->comm->reduce_scatter(b->comm, b->partials, b->partial_counts, count, params);
  } else if (s->local_chunks > 1) {
    gsvae_launch_fold(b->partials, b->partials, count, s->local_chunks, count, b->stream);
  }
  size_t start = gsvae_shard_start(params, ranks, rank);
  size_t end = gsvae_shard_end(params, ranks, rank, count);
  size_t agreed_bytes = (1 + GSVAE_METRIC_SLOTS) * sizeof(float);
  cudaCheck(cudaMemsetAsync(b->agreed, 0, agreed_bytes, b->stream));
  gsvae_launch_check_finite(b->partials + start, end - start, b->agreed, b->stream);
  if (rank + 1 == ranks) /* the metric slots from the last rank only: their sum is exact in any order */
    cudaCheck(cudaMemcpyAsync(b->agreed + 1, b->partials + params, GSVAE_METRIC_SLOTS * sizeof(float),
                              cudaMemcpyDeviceToDevice, b->stream));
  if (b->comm) b->comm->allreduce_sum(b->comm, b->agreed, 1 + GSVAE_METRIC_SLOTS);
  size_t update_end = end < params ? end : params;
  gsvae_launch_optimizer(b->params + start, b->exp_avg + start, b->exp_avg_sq + start, b->partials + start,
                         update_end - start, b->agreed, b->steps, b->optimizer, b->stream);
  if (b->comm) b->comm->allgather(b->comm, b->params, params);
  if (b->layout.has_sf_baseline) /* after this step's gradient used the old value; alike on every rank */
    gsvae_launch_sf_baseline_update(b->params + b->layout.sf_baseline_offset, b->agreed, b->config.train_sf_decay,
                                    b->stream);
  gsvae_launch_accumulate_metrics(b->metrics, b->agreed, b->stream);
}

static step_graph *find_graph(cuda_backend *b, int global_count) {
  for (int i = 0; i < b->graph_count; i++)
    if (b->graphs[i].global_count == global_count) return &b->graphs[i];
  return NULL;
}

static void forget_graphs(cuda_backend *b) {
  for (int i = 0; i < b->graph_count; i++) cudaCheck(cudaGraphExecDestroy(b->graphs[i].exec));
  b->graph_count = 0;
}

static void begin_capture(cuda_backend *b) {
  cudaCheck(cudaStreamBeginCapture(b->stream, cudaStreamCaptureModeThreadLocal));
}

static cudaGraphExec_t end_capture(cuda_backend *b) {
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  cudaCheck(cudaStreamEndCapture(b->stream, &graph));
  cudaCheck(cudaGraphInstantiate(&exec, graph, 0));
  cudaCheck(cudaGraphDestroy(graph));
  return exec;
}

/* What changes from step to step goes to the device structs by a kernel argument (copied at
 * launch, so the host may run ahead without a race); the graphs read it from there. One struct
 * per local chunk: its noise and data start at the chunk's first sample. */
static void set_steps(cuda_backend *b, const gsvae_step *s) {
  int chunks = s->local_chunks > 0 ? s->local_chunks : 1; /* steps[0] carries the optimizer's values */
  for (int i = 0; i < chunks; i++) {
    gsvae_cuda_step value;
    memset(&value, 0, sizeof value);
    long first = s->batch_start + gsvae_chunk_start(s->global_count, s->chunk_count, s->first_chunk + i);
    value.step = (unsigned long long)s->step;
    value.sample_base = (unsigned long long)first; /* noise follows the epoch order */
    value.data_offset = first;
    gsvae_optimizer_step scalars = gsvae_optimizer_step_at(&b->config, s->step + 1);
    value.update_rule = (int)scalars.rule;
    value.step_size = (float)scalars.step_size;
    value.bias1 = (float)scalars.bias1;
    value.bias2_sqrt = (float)scalars.bias2_sqrt;
    value.rect = (float)scalars.rect;
    value.tau = s->tau;
    value.grad_divisor = (float)s->global_count;
    gsvae_launch_set_step(b->steps + i, value, b->stream);
  }
}

static void check_chunks(cuda_backend *b, const gsvae_step *s) {
  int rows = s->local_chunks ? gsvae_chunk_start(s->global_count, s->chunk_count, s->first_chunk + 1) -
                                   gsvae_chunk_start(s->global_count, s->chunk_count, s->first_chunk)
                             : 0;
  if (s->local_chunks > b->max_partials || rows > b->max_batch)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "cuda backend: step %ld has %d chunks of up to %d samples, beyond the %d of %d "
                "it was made for", s->step, s->local_chunks, rows + 1, b->max_partials, b->max_batch);
}

/* The whole step (chunks, reduction, update) is one graph per global batch size, captured from
 * here to the end of update() and launched there; eager without device.graphs or with a
 * communicator whose collectives wait on the host. */
static int step_as_graph(const cuda_backend *b) { return b->config.device_graphs && !(b->comm && b->comm->eager); }

static void cuda_forward_backward(gsvae_backend *backend, const gsvae_step *s) {
  cuda_backend *b = as_cuda(backend);
  check_chunks(b, s);
  set_steps(b, s);
  b->pending = *s;
  if (!step_as_graph(b)) {
    enqueue_chunks(b, s);
    return;
  }
  if (!find_graph(b, s->global_count)) {
    b->capturing = 1;
    begin_capture(b);
    enqueue_chunks(b, s);
  }
}

static void cuda_update(gsvae_backend *backend, const gsvae_step *s) {
  cuda_backend *b = as_cuda(backend);
  if (!step_as_graph(b)) {
    enqueue_update(b, s);
    return;
  }
  if (b->capturing) {
    enqueue_update(b, s);
    if (b->graph_count == GRAPH_CACHE) { /* unusual batch sizes: recycle the oldest */
      cudaCheck(cudaGraphExecDestroy(b->graphs[0].exec));
      memmove(b->graphs, b->graphs + 1, (GRAPH_CACHE - 1) * sizeof(step_graph));
      b->graph_count--;
    }
    b->graphs[b->graph_count++] = (step_graph){.global_count = s->global_count, .exec = end_capture(b)};
    b->capturing = 0;
  }
  cudaCheck(cudaGraphLaunch(find_graph(b, b->pending.global_count)->exec, b->stream));
}

static float *cuda_reduce_buffer(gsvae_backend *backend, size_t *count) {
  cuda_backend *b = as_cuda(backend);
  *count = b->reduce_count;
  return b->partials;
}

/* The wait first, under the wait guard (a stuck peer's collective ends there, named); then the
 * copies from and to pageable memory, on the backend's stream, which the default stream does not
 * order against. */
static void cuda_set_state(gsvae_backend *backend, const float *params, const float *exp_avg,
                           const float *exp_avg_sq) {
  cuda_backend *b = as_cuda(backend);
  size_t bytes = b->layout.param_count * sizeof(float);
  const float *sources[3] = {params, exp_avg, exp_avg_sq};
  float *targets[3] = {b->params, b->exp_avg, b->exp_avg_sq};
  gsvae_cuda_stream_wait(b->stream, "the training steps (set_state)");
  for (int i = 0; i < 3; i++)
    if (sources[i]) cudaCheck(cudaMemcpyAsync(targets[i], sources[i], bytes, cudaMemcpyHostToDevice, b->stream));
  gsvae_cuda_stream_wait(b->stream, "set_state's copies");
}

static void cuda_get_state(gsvae_backend *backend, float *params, float *exp_avg, float *exp_avg_sq) {
  cuda_backend *b = as_cuda(backend);
  size_t bytes = b->layout.param_count * sizeof(float);
  float *targets[3] = {params, exp_avg, exp_avg_sq};
  const float *sources[3] = {b->params, b->exp_avg, b->exp_avg_sq};
  gsvae_cuda_stream_wait(b->stream, "the training steps (get_state)");
  for (int i = 0; i < 3; i++)
    if (targets[i]) cudaCheck(cudaMemcpyAsync(targets[i], sources[i], bytes, cudaMemcpyDeviceToHost, b->stream));
  gsvae_cuda_stream_wait(b->stream, "get_state's copies");
}

/* The wait first (under the wait guard): then the copy from pageable memory returns with `order`
 * already consumed, so the loop may refill it. Once an epoch. */
static void cuda_begin_epoch(gsvae_backend *backend, long epoch, const uint32_t *order) {
  cuda_backend *b = as_cuda(backend);
  gsvae_cuda_stream_wait(b->stream, "the last epoch's steps");
  cudaCheck(cudaMemcpyAsync(b->order, order, (size_t)b->train_count * sizeof(uint32_t), cudaMemcpyHostToDevice,
                            b->stream));
}

static void cuda_read_metrics(gsvae_backend *backend, gsvae_metric_read *read) {
  cuda_backend *b = as_cuda(backend);
  cudaCheck(cudaMemcpyAsync(b->metrics_host, b->metrics, sizeof *b->metrics, cudaMemcpyDeviceToHost, b->stream));
  if (b->layout.has_log_tau)
    cudaCheck(cudaMemcpyAsync(b->log_tau_host, b->params + b->layout.log_tau_offset, sizeof(float), cudaMemcpyDeviceToHost,
                              b->stream));
  cudaCheck(cudaMemsetAsync(b->metrics, 0, offsetof(gsvae_cuda_metrics, bad_streak), b->stream));
  gsvae_cuda_stream_wait(b->stream, "the training steps (reading metrics)");
  const gsvae_cuda_metrics *m = b->metrics_host;
  *read = (gsvae_metric_read){.sums = m->sums, .bad_streak = (long)m->bad_streak,
                              .tau = b->layout.has_log_tau ? expf(*b->log_tau_host) : 0};
}

/* Test images in chunks of the batch workspace, eager (evaluation is not the hot loop). */
static void cuda_evaluate(gsvae_backend *backend, int start, int count, double *sums) {
  cuda_backend *b = as_cuda(backend);
  const gsvae_layout *layout = &b->layout;
  int E = layout->encoder_layers;
  for (int done = 0; done < count; done += b->workspace_rows) {
    int rows = count - done < b->workspace_rows ? count - done : b->workspace_rows;
    gsvae_cuda_step value;
    memset(&value, 0, sizeof value);
    value.sample_base = (unsigned long long)(start + done);
    value.data_offset = start + done;
    value.tau = 1.0f;
    gsvae_launch_set_step(b->eval_step, value, b->stream);
    gsvae_launch_gather(b->x, b->test_pixels, NULL, b->eval_step, rows, b->dim,
                        b->config.data_binarize == GSVAE_BINARIZE_DYNAMIC, b->config.train_seed, b->stream);
    encoder_forward(b, rows);
    gsvae_launch_latent_forward(b->act[E - 1], NULL, NULL, NULL, b->kl_groups, b->choice, b->eval_step, rows,
                                layout->latents, layout->categories, b->config.train_seed, 0, GSVAE_NOISE_EVAL,
                                b->estimator, b->stream);
    unrelaxed_decoder(b, b->stream, b->cublas, rows);
    gsvae_launch_step_metrics(b->eval_slots, b->bce_unrelaxed_rows, b->kl_groups, NULL, rows, 1, layout->latents,
                              b->stream);
    cudaCheck(cudaMemcpyAsync(b->eval_slots_host, b->eval_slots, GSVAE_METRIC_SLOTS * sizeof(float),
                              cudaMemcpyDeviceToHost, b->stream));
    gsvae_cuda_stream_wait(b->stream, "the test-set evaluation");
    sums[GSVAE_METRIC_RELAXED] += b->eval_slots_host[GSVAE_METRIC_RELAXED];
    sums[GSVAE_METRIC_BCE] += b->eval_slots_host[GSVAE_METRIC_BCE];
    sums[GSVAE_METRIC_KL] += b->eval_slots_host[GSVAE_METRIC_KL];
    sums[GSVAE_METRIC_SAMPLES] += rows;
  }
}

static void cuda_destroy(gsvae_backend *backend) {
  cuda_backend *b = as_cuda(backend);
  gsvae_cuda_stream_wait(b->stream, "the GPU before shutdown");
  forget_graphs(b);
  void *buffers[] = {b->params, b->partials, b->agreed, b->exp_avg, b->exp_avg_sq, b->train_pixels, b->test_pixels, b->order,
                     b->x, b->y, b->z, b->dz, b->dkl, b->kl_groups, b->bce_rows, b->bce_unrelaxed_rows,
                     b->eval_slots, b->choice, b->steps, b->eval_step, b->metrics, b->cublas_workspace,
                     b->side_workspace, b->tau_terms};
  for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaCheck(cudaFree(buffers[i]));
  for (int l = 0; l < b->layout.layer_count; l++) {
    cudaCheck(cudaFree(b->act[l]));
    cudaCheck(cudaFree(b->dact[l]));
    if (b->unrelaxed_act[l]) cudaCheck(cudaFree(b->unrelaxed_act[l]));
  }
  cudaCheck(cudaFreeHost(b->metrics_host));
  cudaCheck(cudaFreeHost(b->log_tau_host));
  cudaCheck(cudaFreeHost(b->eval_slots_host));
  cublasCheck(cublasDestroy(b->cublas));
  cublasCheck(cublasDestroy(b->side_cublas));
  cudaCheck(cudaEventDestroy(b->fork));
  cudaCheck(cudaEventDestroy(b->join));
  cudaCheck(cudaStreamDestroy(b->stream));
  cudaCheck(cudaStreamDestroy(b->side_stream));
  free(b->partial_counts);
  free(b);
}

static void cuda_attach_comm(gsvae_backend *backend, gsvae_comm *comm);

static uint8_t *upload_pixels(const gsvae_dataset *dataset) {
  size_t bytes = (size_t)dataset->count * dataset->dim;
  uint8_t *pixels = device_alloc(bytes);
  cudaCheck(cudaMemcpy(pixels, dataset->pixels, bytes, cudaMemcpyHostToDevice));
  return pixels;
}

/* A stream with a cuBLAS handle bound to it, in the configured precision, and a workspace of its
 * own: cuBLAS then allocates nothing while a graph is being captured. */
static void open_stream(cuda_backend *b, cudaStream_t *stream, cublasHandle_t *cublas, void **workspace) {
  const size_t workspace_bytes = (size_t)32 << 20;
  cudaCheck(cudaStreamCreateWithFlags(stream, cudaStreamNonBlocking));
  cublasCheck(cublasCreate(cublas));
  cublasCheck(cublasSetStream(*cublas, *stream));
  *workspace = device_alloc(workspace_bytes);
  cublasCheck(cublasSetWorkspace(*cublas, *workspace, workspace_bytes));
  cublasCheck(cublasSetMathMode(*cublas, b->compute == CUBLAS_COMPUTE_32F_FAST_TF32   ? CUBLAS_TF32_TENSOR_OP_MATH
                                         : b->compute == CUBLAS_COMPUTE_32F_FAST_16BF ? CUBLAS_DEFAULT_MATH
                                                                                      : CUBLAS_PEDANTIC_MATH));
}

gsvae_backend *gsvae_cuda_backend_create(const gsvae_config *config, const gsvae_layout *layout,
                                         const gsvae_dataset *train, const gsvae_dataset *test, int max_rows,
                                         int max_local_chunks) {
  cuda_backend *b = callocCheck(1, sizeof *b);
  b->config = *config;
  b->layout = *layout;
  b->max_batch = max_rows;
  b->max_partials = max_local_chunks > 1 ? max_local_chunks : 1;
  b->train_count = train->count;
  b->test_count = test->count;
  b->dim = layout->input_dim;
  b->reduce_count = layout->param_count + GSVAE_METRIC_SLOTS;
  b->optimizer = (gsvae_cuda_optimizer){(float)config->train_beta1,     (float)config->train_beta2,
                                        (float)(1 - config->train_beta1), (float)(1 - config->train_beta2),
                                        (float)config->train_eps,         (float)config->train_lr};
  gsvae_estimator_settings settings = gsvae_estimator_settings_of(config);
  b->samples = settings.decoder_samples;
  b->estimator = (gsvae_cuda_estimator){.kind = (int)settings.kind,
                                        .conditional_draws = settings.conditional_draws,
                                        .gap = (float)settings.gap,
                                        .decoder_samples = settings.decoder_samples,
                                        .sf_leave_one_out = settings.baseline == GSVAE_SF_BASELINE_LOO};
  if (train->dim != layout->input_dim || test->dim != layout->input_dim)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "cuda backend: images of %d/%d pixels for a model of %d inputs", train->dim,
                test->dim, layout->input_dim);

  /* bf16: float operands rounded to bfloat16 by cuBLAS on the tensor cores, accumulated in float */
  b->compute = config->device_precision == GSVAE_PRECISION_TF32   ? CUBLAS_COMPUTE_32F_FAST_TF32
               : config->device_precision == GSVAE_PRECISION_BF16 ? CUBLAS_COMPUTE_32F_FAST_16BF
                                                                  : CUBLAS_COMPUTE_32F_PEDANTIC;
  open_stream(b, &b->stream, &b->cublas, &b->cublas_workspace);
  open_stream(b, &b->side_stream, &b->side_cublas, &b->side_workspace);
  cudaCheck(cudaEventCreateWithFlags(&b->fork, cudaEventDisableTiming));
  cudaCheck(cudaEventCreateWithFlags(&b->join, cudaEventDisableTiming));

  b->workspace_rows = max_rows > EVAL_ROWS ? max_rows : EVAL_ROWS;
  size_t P = layout->param_count, B = (size_t)b->workspace_rows, LK = (size_t)layout->latents * layout->categories;
  size_t decoded = B * (size_t)b->samples; /* the decoder's rows and the latent samples it reads */
  b->params = device_alloc(P * sizeof(float));
  b->exp_avg = device_alloc(P * sizeof(float));
  b->exp_avg_sq = device_alloc(P * sizeof(float));
  b->partials = device_alloc((size_t)b->max_partials * b->reduce_count * sizeof(float));
  cudaCheck(cudaMemset(b->partials, 0, (size_t)b->max_partials * b->reduce_count * sizeof(float)));
  b->agreed = device_alloc((1 + GSVAE_METRIC_SLOTS) * sizeof(float));
  b->train_pixels = upload_pixels(train);
  b->test_pixels = upload_pixels(test);
  b->order = device_alloc((size_t)train->count * sizeof(uint32_t));
  b->x = device_alloc(B * b->dim * sizeof(float));
  for (int l = 0; l < layout->layer_count; l++) {
    size_t bytes = B * layout->out_features[l] * sizeof(float);
    size_t rows = l >= layout->encoder_layers ? decoded : B;
    b->act[l] = device_alloc(rows * layout->out_features[l] * sizeof(float));
    b->dact[l] = device_alloc(rows * layout->out_features[l] * sizeof(float));
    if (l >= layout->encoder_layers) b->unrelaxed_act[l] = device_alloc(bytes);
  }
  b->y = device_alloc(B * LK * sizeof(float));
  b->z = device_alloc(decoded * LK * sizeof(float));
  b->dz = device_alloc(B * LK * sizeof(float));
  b->dkl = device_alloc(B * LK * sizeof(float));
  b->kl_groups = device_alloc(B * layout->latents * sizeof(float));
  b->choice = device_alloc(B * layout->latents * sizeof(int));
  b->bce_rows = device_alloc(decoded * sizeof(float));
  if (layout->has_log_tau) b->tau_terms = device_alloc(B * layout->latents * sizeof(float));
  b->bce_unrelaxed_rows = device_alloc(B * sizeof(float));
  b->eval_slots = device_alloc(GSVAE_METRIC_SLOTS * sizeof(float));
  b->steps = device_alloc((size_t)b->max_partials * sizeof *b->steps);
  b->step = b->steps;
  b->partial_counts = callocCheck(1, sizeof(int));
  b->eval_step = device_alloc(sizeof *b->eval_step);
  b->metrics = device_alloc(sizeof *b->metrics);
  cudaCheck(cudaMemset(b->metrics, 0, sizeof *b->metrics));
  cudaCheck(cudaMallocHost((void **)&b->metrics_host, sizeof *b->metrics_host));
  cudaCheck(cudaMallocHost((void **)&b->log_tau_host, sizeof(float)));
  cudaCheck(cudaMallocHost((void **)&b->eval_slots_host, GSVAE_METRIC_SLOTS * sizeof(float)));
  cudaCheck(cudaDeviceSynchronize());

  b->base.name = config->device_precision == GSVAE_PRECISION_TF32   ? "cuda (tf32)"
                 : config->device_precision == GSVAE_PRECISION_BF16 ? "cuda (bf16)"
                                                                    : "cuda";
  b->base.set_state = cuda_set_state;
  b->base.get_state = cuda_get_state;
  b->base.begin_epoch = cuda_begin_epoch;
  b->base.attach_comm = cuda_attach_comm;
  b->base.forward_backward = cuda_forward_backward;
  b->base.reduce_buffer = cuda_reduce_buffer;
  b->base.update = cuda_update;
  b->base.read_metrics = cuda_read_metrics;
  b->base.evaluate = cuda_evaluate;
  b->base.destroy = cuda_destroy;
  return &b->base;
}

void *gsvae_cuda_backend_stream(gsvae_backend *backend) { return as_cuda(backend)->stream; }

/* Graphs captured so far reduced without the communicator: capture again. */
static void cuda_attach_comm(gsvae_backend *backend, gsvae_comm *comm) {
  cuda_backend *b = as_cuda(backend);
  if (b->capturing) gsvae_abort(GSVAE_EXIT_RUNTIME, "cuda backend: attach_comm between forward_backward and update");
  gsvae_cuda_stream_wait(b->stream, "the GPU before attaching the communicator");
  forget_graphs(b);
  b->comm = comm;
  free(b->partial_counts);
  b->partial_counts = callocCheck(comm ? (size_t)comm->size : 1, sizeof(int));
  if (!comm) return;
  /* the reduction receives at most every chunk's partial of this rank's shard (the largest is
   * the last, with the metric slots) */
  int chunks = b->config.train_deterministic ? b->config.train_reduce_chunks : comm->size;
  size_t params = b->layout.param_count, largest = 0;
  for (int q = 0; q < comm->size; q++) {
    size_t end = gsvae_shard_end(params, comm->size, q, b->reduce_count);
    size_t length = end - gsvae_shard_start(params, comm->size, q);
    largest = length > largest ? length : largest;
  }
  gsvae_device_comm_reserve(comm, (size_t)chunks * largest);
}
