/* The CUDA backend: the model's flat buffers, the training set and the epoch order resident on
 * the GPU; the step as cuBLAS products plus the fused kernels of kernels.cu, eager or captured
 * once per batch size as a CUDA graph and replayed; metrics read back only in read_metrics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gsvae/backend.h"
#include "gsvae/cuda.h"
#include "gsvae/rng.h"
#include "cuda_util.h"
#include "kernels.h"

#define GRAPH_CACHE 4 /* batch sizes seen: the full one and an epoch's short last batch */
#define EVAL_ROWS 1024 /* evaluation chunk at least: one host wait per chunk */

typedef struct {
  int rows;
  cudaGraphExec_t forward_backward, update; /* update alone is used when the loop all-reduces */
} step_graph;

typedef struct {
  gsvae_backend base;
  gsvae_config config;
  gsvae_layout layout;
  int max_batch, train_count, test_count, dim;
  int workspace_rows;        /* max_batch, or more for evaluation chunks */
  size_t reduce_count;       /* param_count + GSVAE_METRIC_SLOTS */
  size_t encoder_params;     /* the encoder's part of the flat buffers comes first */
  cudaStream_t stream, side_stream;
  cudaEvent_t decoder_grads_ready, side_done;
  cublasHandle_t cublas;
  cublasComputeType_t compute;
  gsvae_cuda_adam adam;
  gsvae_cuda_estimator estimator;
  void *cublas_workspace;
  gsvae_comm *comm;          /* attached NCCL communicator, or NULL: the loop all-reduces */

  float *params, *grads, *exp_avg, *exp_avg_sq; /* grads: reduce_count floats */
  uint8_t *train_pixels, *test_pixels;
  uint32_t *order;
  float *x, *ones;
  float *act[GSVAE_MAX_LAYERS], *dact[GSVAE_MAX_LAYERS], *unrelaxed_act[GSVAE_MAX_LAYERS];
  float *y, *z, *dz, *dkl, *kl_groups, *bce_rows, *bce_unrelaxed_rows, *eval_slots;
  int *choice, *nonfinite;
  gsvae_cuda_step *step, *eval_step;
  gsvae_cuda_metrics *metrics;
  gsvae_cuda_metrics *metrics_host; /* pinned */
  float *eval_slots_host;           /* pinned */

  step_graph graphs[GRAPH_CACHE];
  int graph_count;
  int capturing_rows;               /* > 0 between forward_backward and update of a whole-step capture */
  int pending_rows;                 /* the rows of the step forward_backward set up */
} cuda_backend;

static cuda_backend *as_cuda(gsvae_backend *backend) { return (cuda_backend *)backend; }

static void *device_alloc(size_t bytes) {
  void *p = NULL;
  cudaCheck(cudaMalloc(&p, bytes ? bytes : 1));
  return p;
}

/* Row-major products through column-major cuBLAS: a row-major M x N matrix is its N x M
 * column-major transpose, so each product is computed transposed. */
static void gemm(cuda_backend *b, cublasOperation_t op_a, cublasOperation_t op_b, int m, int n, int k, const float *A,
                 int lda, const float *B, int ldb, float *C, int ldc) {
  const float one = 1.0f, zero = 0.0f;
  cublasCheck(cublasGemmEx(b->cublas, op_a, op_b, m, n, k, &one, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb, &zero, C,
                           CUDA_R_32F, ldc, b->compute, CUBLAS_GEMM_DEFAULT));
}

/* Y (rows x out) = X (rows x in) W^T, W out x in. */
static void linear_forward(cuda_backend *b, int layer, const float *X, float *Y, int rows) {
  int in = b->layout.in_features[layer], out = b->layout.out_features[layer];
  gemm(b, CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, b->params + b->layout.weight_offset[layer], in, X, in, Y, out);
}

/* dX (rows x in) = dY (rows x out) W. */
static void linear_backward_input(cuda_backend *b, int layer, const float *dY, float *dX, int rows) {
  int in = b->layout.in_features[layer], out = b->layout.out_features[layer];
  gemm(b, CUBLAS_OP_N, CUBLAS_OP_N, in, rows, out, b->params + b->layout.weight_offset[layer], in, dY, out, dX, in);
}

/* dW (out x in) = dY^T X; db = column sums of dY (a product with ones: fixed order, no atomics). */
static void linear_backward_params(cuda_backend *b, int layer, const float *dY, const float *X, int rows) {
  int in = b->layout.in_features[layer], out = b->layout.out_features[layer];
  gemm(b, CUBLAS_OP_N, CUBLAS_OP_T, in, out, rows, X, in, dY, out, b->grads + b->layout.weight_offset[layer], in);
  const float one = 1.0f, zero = 0.0f;
  cublasCheck(cublasSgemv(b->cublas, CUBLAS_OP_N, out, rows, &one, dY, out, b->ones, 1, &zero,
                          b->grads + b->layout.bias_offset[layer], 1));
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
    linear_forward(b, l, layer_input(b, l), b->act[l], rows);
    gsvae_launch_bias_act(b->act[l], b->params + b->layout.bias_offset[l], rows, b->layout.out_features[l],
                          layer_relu(&b->layout, l), b->stream);
  }
}

/* The unrelaxed decoder from the one-hot choices: the first layer is a gather-sum of weight
 * columns; its BCE per row into bce_unrelaxed_rows. */
static void unrelaxed_decoder(cuda_backend *b, int rows) {
  const gsvae_layout *layout = &b->layout;
  int first = layout->encoder_layers;
  gsvae_launch_onehot_linear(b->unrelaxed_act[first], b->params + layout->weight_offset[first],
                             b->params + layout->bias_offset[first], b->choice, rows, layout->out_features[first],
                             layout->latents, layout->categories, layer_relu(layout, first), b->stream);
  for (int l = first + 1; l < layout->layer_count; l++) {
    linear_forward(b, l, b->unrelaxed_act[l - 1], b->unrelaxed_act[l], rows);
    gsvae_launch_bias_act(b->unrelaxed_act[l], b->params + layout->bias_offset[l], rows, layout->out_features[l],
                          layer_relu(layout, l), b->stream);
  }
  gsvae_launch_bce(b->unrelaxed_act[layout->layer_count - 1], b->x, NULL, b->bce_unrelaxed_rows, rows,
                   layout->input_dim, b->stream);
}

static void nccl_sum(cuda_backend *b, float *buffer, size_t count, cudaStream_t stream) {
  gsvae_nccl_allreduce_on(b->comm, buffer, count, stream);
}

/* Forward, backward and (with an attached communicator) the all-reduce of one step on `rows`
 * local samples, enqueued on the stream; nothing here waits for the GPU. */
static void enqueue_forward_backward(cuda_backend *b, int rows) {
  const gsvae_layout *layout = &b->layout;
  const gsvae_config *config = &b->config;
  int n = layout->layer_count, E = layout->encoder_layers, L = layout->latents, K = layout->categories;
  gsvae_launch_gather(b->x, b->train_pixels, b->order, b->step, rows, b->dim,
                      config->data_binarize == GSVAE_BINARIZE_DYNAMIC, config->train_seed, b->stream);
  encoder_forward(b, rows);
  gsvae_launch_latent_forward(b->act[E - 1], b->y, b->z, b->dkl, b->kl_groups,
                              config->train_unrelaxed ? b->choice : NULL, b->step, rows, L, K, config->train_seed,
                              GSVAE_NOISE_GUMBEL, GSVAE_NOISE_GUMBEL_UNRELAXED, b->estimator, b->stream);
  for (int l = E; l < n; l++) {
    linear_forward(b, l, layer_input(b, l), b->act[l], rows);
    gsvae_launch_bias_act(b->act[l], b->params + layout->bias_offset[l], rows, layout->out_features[l],
                          layer_relu(layout, l), b->stream);
  }
  gsvae_launch_bce(b->act[n - 1], b->x, b->dact[n - 1], b->bce_rows, rows, layout->input_dim, b->stream);
  if (config->train_unrelaxed) unrelaxed_decoder(b, rows);
  float *slots = b->grads + layout->param_count;
  gsvae_launch_step_metrics(slots, b->bce_rows, b->kl_groups, config->train_unrelaxed ? b->bce_unrelaxed_rows : NULL,
                            rows, L, b->stream);

  for (int l = n - 1; l >= E; l--) {
    linear_backward_params(b, l, b->dact[l], layer_input(b, l), rows);
    float *d_input = l == E ? b->dz : b->dact[l - 1];
    linear_backward_input(b, l, b->dact[l], d_input, rows);
    if (l > E) gsvae_launch_relu_backward(d_input, b->act[l - 1], (size_t)rows * layout->in_features[l], b->stream);
  }
  bool overlap = b->comm && config->device_overlap;
  if (overlap) {
    /* The decoder's gradients and the metrics are contiguous at the end of the buffer: reduce
     * them on the side stream while the encoder's backward runs here. */
    cudaCheck(cudaEventRecord(b->decoder_grads_ready, b->stream));
    cudaCheck(cudaStreamWaitEvent(b->side_stream, b->decoder_grads_ready, 0));
    nccl_sum(b, b->grads + b->encoder_params, b->reduce_count - b->encoder_params, b->side_stream);
    cudaCheck(cudaEventRecord(b->side_done, b->side_stream));
  }
  gsvae_launch_latent_backward(b->dact[E - 1], b->dz, b->y, b->z, b->dkl, b->act[E - 1], layout->logits_relu, b->step,
                               rows, L, K, config->train_seed, b->estimator, b->stream);
  for (int l = E - 1; l >= 0; l--) {
    linear_backward_params(b, l, b->dact[l], layer_input(b, l), rows);
    if (l == 0) break;
    linear_backward_input(b, l, b->dact[l], b->dact[l - 1], rows);
    gsvae_launch_relu_backward(b->dact[l - 1], b->act[l - 1], (size_t)rows * layout->in_features[l], b->stream);
  }
  if (overlap) {
    nccl_sum(b, b->grads, b->encoder_params, b->stream);
    cudaCheck(cudaStreamWaitEvent(b->stream, b->side_done, 0));
  } else if (b->comm) {
    nccl_sum(b, b->grads, b->reduce_count, b->stream);
  }
}

/* After the all-reduce: the finite check over gradients and metrics, Adam, the metric sums. */
static void enqueue_update(cuda_backend *b) {
  cudaCheck(cudaMemsetAsync(b->nonfinite, 0, sizeof(int), b->stream));
  gsvae_launch_check_finite(b->grads, b->reduce_count, b->nonfinite, b->stream);
  gsvae_launch_adam(b->params, b->exp_avg, b->exp_avg_sq, b->grads, b->layout.param_count, b->nonfinite, b->step,
                    b->adam, b->stream);
  gsvae_launch_accumulate_metrics(b->metrics, b->grads + b->layout.param_count, b->nonfinite, b->stream);
}

static step_graph *find_graph(cuda_backend *b, int rows) {
  for (int i = 0; i < b->graph_count; i++)
    if (b->graphs[i].rows == rows) return &b->graphs[i];
  return NULL;
}

static step_graph *new_graph(cuda_backend *b, int rows) {
  if (b->graph_count == GRAPH_CACHE) { /* unusual batch sizes: recycle the oldest */
    cudaCheck(cudaGraphExecDestroy(b->graphs[0].forward_backward));
    if (b->graphs[0].update) cudaCheck(cudaGraphExecDestroy(b->graphs[0].update));
    memmove(b->graphs, b->graphs + 1, (GRAPH_CACHE - 1) * sizeof(step_graph));
    b->graph_count--;
  }
  step_graph *graph = &b->graphs[b->graph_count++];
  memset(graph, 0, sizeof *graph);
  graph->rows = rows;
  return graph;
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

/* What changes from step to step goes to the device struct by a kernel argument (copied at
 * launch, so the host may run ahead without a race); the graphs read it from there. */
static void set_step(cuda_backend *b, const gsvae_step *s) {
  gsvae_cuda_step value;
  memset(&value, 0, sizeof value);
  value.step = (unsigned long long)s->step;
  value.sample_base = (unsigned long long)(s->batch_start + s->local_start); /* noise follows the epoch order */
  value.data_offset = s->batch_start + s->local_start;
  double t = (double)(s->step + 1);
  value.adam_step_size = (float)(b->config.train_lr / (1.0 - pow(b->config.train_beta1, t)));
  value.adam_bias2_sqrt = (float)sqrt(1.0 - pow(b->config.train_beta2, t));
  value.tau = s->tau;
  value.grad_divisor = (float)s->global_count;
  gsvae_launch_set_step(b->step, value, b->stream);
}

static void check_rows(cuda_backend *b, const gsvae_step *s) {
  if (s->local_count < 1 || s->local_count > b->max_batch)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "cuda backend: step %ld has %d local samples, outside 1..%d", s->step,
                s->local_count, b->max_batch);
}

/* Graphs: with an attached communicator the whole step is one graph, captured from here to the
 * end of update() and launched there; otherwise forward/backward and update are two graphs
 * with the loop's all-reduce between them. */
static void cuda_forward_backward(gsvae_backend *backend, const gsvae_step *s) {
  cuda_backend *b = as_cuda(backend);
  check_rows(b, s);
  set_step(b, s);
  b->pending_rows = s->local_count;
  if (!b->config.device_graphs) {
    enqueue_forward_backward(b, s->local_count);
    return;
  }
  step_graph *graph = find_graph(b, s->local_count);
  if (b->comm) {
    if (!graph) {
      b->capturing_rows = s->local_count;
      begin_capture(b);
      enqueue_forward_backward(b, s->local_count);
    }
    return;
  }
  if (!graph) {
    graph = new_graph(b, s->local_count);
    begin_capture(b);
    enqueue_forward_backward(b, s->local_count);
    graph->forward_backward = end_capture(b);
  }
  cudaCheck(cudaGraphLaunch(graph->forward_backward, b->stream));
}

static void cuda_update(gsvae_backend *backend, const gsvae_step *s) {
  cuda_backend *b = as_cuda(backend);
  if (!b->config.device_graphs) {
    enqueue_update(b);
    return;
  }
  if (b->comm) {
    if (b->capturing_rows) {
      enqueue_update(b);
      step_graph *graph = new_graph(b, b->capturing_rows);
      graph->forward_backward = end_capture(b);
      b->capturing_rows = 0;
    }
    cudaCheck(cudaGraphLaunch(find_graph(b, b->pending_rows)->forward_backward, b->stream));
    return;
  }
  step_graph *graph = find_graph(b, b->pending_rows);
  if (!graph->update) {
    begin_capture(b);
    enqueue_update(b);
    graph->update = end_capture(b);
  }
  cudaCheck(cudaGraphLaunch(graph->update, b->stream));
}

static float *cuda_reduce_buffer(gsvae_backend *backend, size_t *count) {
  cuda_backend *b = as_cuda(backend);
  *count = b->comm ? 0 : b->reduce_count; /* an attached communicator reduced inside the step */
  return b->grads;
}

/* Copies on the backend's stream (the default stream does not order against it), then a wait. */
static void cuda_set_state(gsvae_backend *backend, const float *params, const float *exp_avg,
                           const float *exp_avg_sq) {
  cuda_backend *b = as_cuda(backend);
  size_t bytes = b->layout.param_count * sizeof(float);
  const float *sources[3] = {params, exp_avg, exp_avg_sq};
  float *targets[3] = {b->params, b->exp_avg, b->exp_avg_sq};
  for (int i = 0; i < 3; i++)
    if (sources[i]) cudaCheck(cudaMemcpyAsync(targets[i], sources[i], bytes, cudaMemcpyHostToDevice, b->stream));
  gsvae_cuda_stream_wait(b->stream, "set_state's copies");
}

static void cuda_get_state(gsvae_backend *backend, float *params, float *exp_avg, float *exp_avg_sq) {
  cuda_backend *b = as_cuda(backend);
  size_t bytes = b->layout.param_count * sizeof(float);
  float *targets[3] = {params, exp_avg, exp_avg_sq};
  const float *sources[3] = {b->params, b->exp_avg, b->exp_avg_sq};
  for (int i = 0; i < 3; i++)
    if (targets[i]) cudaCheck(cudaMemcpyAsync(targets[i], sources[i], bytes, cudaMemcpyDeviceToHost, b->stream));
  gsvae_cuda_stream_wait(b->stream, "the training steps (get_state)");
}

/* The wait first (under the watchdog): then the copy from pageable memory returns with `order`
 * already consumed, so the loop may refill it. Once an epoch. */
static void cuda_begin_epoch(gsvae_backend *backend, long epoch, const uint32_t *order) {
  cuda_backend *b = as_cuda(backend);
  gsvae_cuda_stream_wait(b->stream, "the last epoch's steps");
  cudaCheck(cudaMemcpyAsync(b->order, order, (size_t)b->train_count * sizeof(uint32_t), cudaMemcpyHostToDevice,
                            b->stream));
}

static void cuda_read_metrics(gsvae_backend *backend, gsvae_metric_sums *sums) {
  cuda_backend *b = as_cuda(backend);
  cudaCheck(cudaMemcpyAsync(b->metrics_host, b->metrics, sizeof *b->metrics, cudaMemcpyDeviceToHost, b->stream));
  cudaCheck(cudaMemsetAsync(b->metrics, 0, offsetof(gsvae_cuda_metrics, bad_streak), b->stream));
  gsvae_cuda_stream_wait(b->stream, "the training steps (reading metrics)");
  const gsvae_cuda_metrics *m = b->metrics_host;
  sums->relaxed = m->sums[GSVAE_METRIC_RELAXED];
  sums->bce = m->sums[GSVAE_METRIC_BCE];
  sums->kl = m->sums[GSVAE_METRIC_KL];
  sums->unrelaxed = m->sums[GSVAE_METRIC_UNRELAXED];
  sums->samples = m->sums[GSVAE_METRIC_SAMPLES];
  sums->steps = m->steps;
  sums->skipped = m->skipped;
  sums->bad_streak = m->bad_streak;
  sums->tau = 0; /* tau.learn is the CPU backend's alone so far */
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
    unrelaxed_decoder(b, rows);
    gsvae_launch_step_metrics(b->eval_slots, b->bce_unrelaxed_rows, b->kl_groups, NULL, rows, layout->latents,
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
  for (int i = 0; i < b->graph_count; i++) {
    cudaCheck(cudaGraphExecDestroy(b->graphs[i].forward_backward));
    if (b->graphs[i].update) cudaCheck(cudaGraphExecDestroy(b->graphs[i].update));
  }
  void *buffers[] = {b->params, b->grads, b->exp_avg, b->exp_avg_sq, b->train_pixels, b->test_pixels, b->order,
                     b->x, b->ones, b->y, b->z, b->dz, b->dkl, b->kl_groups, b->bce_rows, b->bce_unrelaxed_rows,
                     b->eval_slots, b->choice, b->nonfinite, b->step, b->eval_step, b->metrics, b->cublas_workspace};
  for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaCheck(cudaFree(buffers[i]));
  for (int l = 0; l < b->layout.layer_count; l++) {
    cudaCheck(cudaFree(b->act[l]));
    cudaCheck(cudaFree(b->dact[l]));
    if (b->unrelaxed_act[l]) cudaCheck(cudaFree(b->unrelaxed_act[l]));
  }
  cudaCheck(cudaFreeHost(b->metrics_host));
  cudaCheck(cudaFreeHost(b->eval_slots_host));
  cublasCheck(cublasDestroy(b->cublas));
  cudaCheck(cudaEventDestroy(b->decoder_grads_ready));
  cudaCheck(cudaEventDestroy(b->side_done));
  cudaCheck(cudaStreamDestroy(b->side_stream));
  cudaCheck(cudaStreamDestroy(b->stream));
  free(b);
}

static uint8_t *upload_pixels(const gsvae_dataset *dataset) {
  size_t bytes = (size_t)dataset->count * dataset->dim;
  uint8_t *pixels = device_alloc(bytes);
  cudaCheck(cudaMemcpy(pixels, dataset->pixels, bytes, cudaMemcpyHostToDevice));
  return pixels;
}

gsvae_backend *gsvae_cuda_backend_create(const gsvae_config *config, const gsvae_layout *layout,
                                         const gsvae_dataset *train, const gsvae_dataset *test, int max_local_batch) {
  cuda_backend *b = callocCheck(1, sizeof *b);
  b->config = *config;
  b->layout = *layout;
  b->max_batch = max_local_batch;
  b->train_count = train->count;
  b->test_count = test->count;
  b->dim = layout->input_dim;
  b->reduce_count = layout->param_count + GSVAE_METRIC_SLOTS;
  b->adam = (gsvae_cuda_adam){(float)config->train_beta1, (float)config->train_beta2, (float)(1 - config->train_beta1),
                              (float)(1 - config->train_beta2), (float)config->train_eps};
  b->encoder_params = layout->weight_offset[layout->encoder_layers];
  /* sf decodes several samples per input and tau.learn reduces a gradient for log tau: neither is
   * in the kernels yet */
  if (config->train_estimator == GSVAE_ESTIMATOR_SF || config->tau_learn)
    gsvae_fail(GSVAE_EXIT_USAGE, "device.backend=cuda: %s runs on the CPU backend only so far (expected "
               "device.backend=cpu)", config->tau_learn ? "tau.learn=true" : "train.estimator=sf");
  b->estimator = (gsvae_cuda_estimator){.kind = (int)config->train_estimator,
                                        .conditional_draws =
                                            config->train_estimator == GSVAE_ESTIMATOR_GRMCK ? config->train_estimator_samples : 0,
                                        .gap = (float)config->train_estimator_gap};
  if (train->dim != layout->input_dim || test->dim != layout->input_dim)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "cuda backend: images of %d/%d pixels for a model of %d inputs", train->dim,
                test->dim, layout->input_dim);

  cudaCheck(cudaStreamCreateWithFlags(&b->stream, cudaStreamNonBlocking));
  cudaCheck(cudaStreamCreateWithFlags(&b->side_stream, cudaStreamNonBlocking));
  cudaCheck(cudaEventCreateWithFlags(&b->decoder_grads_ready, cudaEventDisableTiming));
  cudaCheck(cudaEventCreateWithFlags(&b->side_done, cudaEventDisableTiming));
  cublasCheck(cublasCreate(&b->cublas));
  cublasCheck(cublasSetStream(b->cublas, b->stream));
  /* A workspace of our own: cuBLAS then allocates nothing while a graph is being captured. */
  const size_t workspace_bytes = (size_t)32 << 20;
  b->cublas_workspace = device_alloc(workspace_bytes);
  cublasCheck(cublasSetWorkspace(b->cublas, b->cublas_workspace, workspace_bytes));
  if (config->device_precision == GSVAE_PRECISION_TF32) {
    cublasCheck(cublasSetMathMode(b->cublas, CUBLAS_TF32_TENSOR_OP_MATH));
    b->compute = CUBLAS_COMPUTE_32F_FAST_TF32;
  } else {
    cublasCheck(cublasSetMathMode(b->cublas, CUBLAS_PEDANTIC_MATH));
    b->compute = CUBLAS_COMPUTE_32F_PEDANTIC;
  }

  b->workspace_rows = max_local_batch > EVAL_ROWS ? max_local_batch : EVAL_ROWS;
  size_t P = layout->param_count, B = (size_t)b->workspace_rows, LK = (size_t)layout->latents * layout->categories;
  b->params = device_alloc(P * sizeof(float));
  b->exp_avg = device_alloc(P * sizeof(float));
  b->exp_avg_sq = device_alloc(P * sizeof(float));
  b->grads = device_alloc(b->reduce_count * sizeof(float));
  cudaCheck(cudaMemset(b->grads, 0, b->reduce_count * sizeof(float)));
  b->train_pixels = upload_pixels(train);
  b->test_pixels = upload_pixels(test);
  b->order = device_alloc((size_t)train->count * sizeof(uint32_t));
  b->x = device_alloc(B * b->dim * sizeof(float));
  float *ones = mallocCheck(B * sizeof(float));
  for (size_t i = 0; i < B; i++) ones[i] = 1.0f;
  b->ones = device_alloc(B * sizeof(float));
  cudaCheck(cudaMemcpy(b->ones, ones, B * sizeof(float), cudaMemcpyHostToDevice));
  free(ones);
  for (int l = 0; l < layout->layer_count; l++) {
    size_t bytes = B * layout->out_features[l] * sizeof(float);
    b->act[l] = device_alloc(bytes);
    b->dact[l] = device_alloc(bytes);
    if (l >= layout->encoder_layers) b->unrelaxed_act[l] = device_alloc(bytes);
  }
  b->y = device_alloc(B * LK * sizeof(float));
  b->z = device_alloc(B * LK * sizeof(float));
  b->dz = device_alloc(B * LK * sizeof(float));
  b->dkl = device_alloc(B * LK * sizeof(float));
  b->kl_groups = device_alloc(B * layout->latents * sizeof(float));
  b->choice = device_alloc(B * layout->latents * sizeof(int));
  b->bce_rows = device_alloc(B * sizeof(float));
  b->bce_unrelaxed_rows = device_alloc(B * sizeof(float));
  b->eval_slots = device_alloc(GSVAE_METRIC_SLOTS * sizeof(float));
  b->nonfinite = device_alloc(sizeof(int));
  b->step = device_alloc(sizeof *b->step);
  b->eval_step = device_alloc(sizeof *b->eval_step);
  b->metrics = device_alloc(sizeof *b->metrics);
  cudaCheck(cudaMemset(b->metrics, 0, sizeof *b->metrics));
  cudaCheck(cudaMallocHost((void **)&b->metrics_host, sizeof *b->metrics_host));
  cudaCheck(cudaMallocHost((void **)&b->eval_slots_host, GSVAE_METRIC_SLOTS * sizeof(float)));
  cudaCheck(cudaDeviceSynchronize());

  b->base.name = config->device_precision == GSVAE_PRECISION_TF32 ? "cuda (tf32)" : "cuda";
  b->base.set_state = cuda_set_state;
  b->base.get_state = cuda_get_state;
  b->base.begin_epoch = cuda_begin_epoch;
  b->base.forward_backward = cuda_forward_backward;
  b->base.reduce_buffer = cuda_reduce_buffer;
  b->base.update = cuda_update;
  b->base.read_metrics = cuda_read_metrics;
  b->base.evaluate = cuda_evaluate;
  b->base.destroy = cuda_destroy;
  return &b->base;
}

void *gsvae_cuda_backend_stream(gsvae_backend *backend) { return as_cuda(backend)->stream; }

void gsvae_cuda_backend_attach_comm(gsvae_backend *backend, gsvae_comm *comm) {
  cuda_backend *b = as_cuda(backend);
  if (b->capturing_rows) gsvae_abort(GSVAE_EXIT_RUNTIME, "cuda backend: attach_comm between forward_backward and update");
  gsvae_cuda_stream_wait(b->stream, "the GPU before attaching the communicator");
  for (int i = 0; i < b->graph_count; i++) { /* captured without the all-reduce: capture again */
    cudaCheck(cudaGraphExecDestroy(b->graphs[i].forward_backward));
    if (b->graphs[i].update) cudaCheck(cudaGraphExecDestroy(b->graphs[i].update));
  }
  b->graph_count = 0;
  b->comm = comm;
}
