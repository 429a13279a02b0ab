/* The backend interface: forward/backward, the update and evaluation on the backend's own
 * memory (host for cpu, device for cuda). The training loop drives any backend through it. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "core/chunks.h"
#include "core/config.h"
#include "core/data.h"
#include "model/layout.h"
#include "model/loss_sums.h"

/* The test set is evaluated in blocks of this many images, fixed whatever the ranks, and their
 * sums added in block order. */
#define GSVAE_EVAL_BLOCK 100

/* One training step as the loop sees it. */
typedef struct {
  long step;                   /* global step, 0-based: the noise counter; the optimizer's t is step+1 */
  long epoch;
  long batch_start;            /* where the global batch starts in this epoch's order */
  int global_count;            /* samples in the global batch */
  int local_start, local_count;/* this rank's slice, relative to batch_start: its whole chunks */
  int chunk_count;             /* the global batch's reduction chunks (core/chunks.h): fixed by the batch
                                * when train.deterministic, else one per rank */
  int first_chunk, local_chunks; /* this rank's chunks [first_chunk, first_chunk + local_chunks) */
  float tau;                   /* the schedule's; a learned tau (tau.learn) is the backend's own */
} gsvae_step;

/* The reduction chunks of a global batch on `size` ranks: fixed when train.deterministic, else one
 * per rank (a short last batch may have fewer samples than that: gsvae_step_slice). */
static inline int gsvae_step_chunks(const gsvae_config *config, int size) {
  return config->train_deterministic ? config->train_reduce_chunks : size;
}

/* What a backend on one of `size` ranks must hold for any step gsvae_step_slice makes: the rows of
 * its largest chunk and the most chunks one rank computes. */
static inline void gsvae_step_capacity(const gsvae_config *config, int size, int *max_rows, int *max_local_chunks) {
  int chunks = gsvae_step_chunks(config, size);
  *max_rows = (config->train_batch + chunks - 1) / chunks;
  *max_local_chunks = (chunks + size - 1) / size;
}

/* Rank `rank` of `size`'s slice of a global batch of s->global_count samples: its reduction chunks
 * and their rows (a short last batch with fewer samples than chunks gets a chunk per sample). */
static inline void gsvae_step_slice(gsvae_step *s, const gsvae_config *config, int rank, int size) {
  int chunks = gsvae_step_chunks(config, size);
  s->chunk_count = chunks < s->global_count ? chunks : s->global_count;
  s->first_chunk = gsvae_rank_first_chunk(s->chunk_count, size, rank);
  s->local_chunks = gsvae_rank_first_chunk(s->chunk_count, size, rank + 1) - s->first_chunk;
  s->local_start = gsvae_chunk_start(s->global_count, s->chunk_count, s->first_chunk);
  s->local_count = gsvae_chunk_start(s->global_count, s->chunk_count, s->first_chunk + s->local_chunks) - s->local_start;
}

/* What read_metrics returns: the sums since the last read, and the state around them. */
typedef struct {
  gsvae_loss_sums sums;        /* only finite steps add to the loss sums; every step to the counts */
  long bad_streak;             /* non-finite steps in a row up to now, across reads */
  float tau;                   /* tau.learn: the learned temperature at the read (0 otherwise) */
} gsvae_metric_read;

typedef struct gsvae_comm gsvae_comm; /* src/comm/comm.h, a layer above: attach_comm takes it opaque */
typedef struct gsvae_backend gsvae_backend;
struct gsvae_backend {
  const char *name;
  /* Host copies in and out of the flat buffers (parameters, the optimizer's exp_avg and exp_avg_sq,
   * each layout->param_count floats); a NULL pointer skips that buffer. With a communicator the
   * moments read out are this rank's shard's (comm->gather_host collects them). */
  void (*set_state)(gsvae_backend *backend, const float *params, const float *exp_avg, const float *exp_avg_sq);
  void (*get_state)(gsvae_backend *backend, float *params, float *exp_avg, float *exp_avg_sq);
  /* This epoch's order of the training set (count = training images). */
  void (*begin_epoch)(gsvae_backend *backend, long epoch, const uint32_t *order);
  /* The communicator update() reduces over; none (NULL, the default) is one rank alone. */
  void (*attach_comm)(gsvae_backend *backend, gsvae_comm *comm);
  /* Gradients of the SUM of the relaxed loss over each of this rank's chunks, and the metric
   * sums, into partial buffers of param_count + GSVAE_METRIC_SLOTS floats (overwritten). */
  void (*forward_backward)(gsvae_backend *backend, const gsvae_step *step);
  /* This rank's first partial buffer (count floats): for tests, on one rank with one chunk the
   * batch's gradient sums then its GSVAE_METRIC_SLOTS. */
  float *(*reduce_buffer)(gsvae_backend *backend, size_t *count);
  /* The reduction of the partials over the communicator to this rank's shard, the finite check
   * agreed by every rank, then, if finite, the optimizer on this rank's shard with gradients
   * divided by step->global_count and the parameters' all-gather; otherwise the step is skipped
   * and counted on every rank. Adds the step to the metric sums. The moments are valid on this
   * rank's shard only (get_state's caller gathers them). */
  void (*update)(gsvae_backend *backend, const gsvae_step *step);
  /* The sums since the last read (the only host sync of the step loop), then resets them. */
  void (*read_metrics)(gsvae_backend *backend, gsvae_metric_read *read);
  /* Unrelaxed loss of test images [start, start+count), count <= GSVAE_EVAL_BLOCK, in one
   * product of `count` rows, noise (seed, EVAL, 0, index):
   * adds sums[GSVAE_METRIC_*] (RELAXED holds the unrelaxed loss, BCE and KL its parts). */
  void (*evaluate)(gsvae_backend *backend, int start, int count, double *sums);
  void (*destroy)(gsvae_backend *backend);
};
