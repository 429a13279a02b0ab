/* The training loop, written once over any backend and communicator: the data order, tau,
 * the step, metric rows and epoch evaluation, curves into run.h5, the final parameters;
 * checkpoints, resume, stop signals and the non-finite streak. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "model/backend.h"
#include "cpu/blas.h"
#include "core/check.h"
#include "core/chunks.h"
#include "core/device_choice.h"
#include "cpu/cpu_backend.h"
#include "cpu/threads.h"
#include "train/checkpoint.h"
#include "comm/comm.h"
#include "train/curves.h"
#include "cpu/float_mode.h"
#include "core/files.h"
#include "train/runfile.h"
#include "core/tau_schedule.h"
#include "core/signals.h"
#include "train/train.h"
#include "train/step_watchdog.h"
#ifdef GSVAE_HAVE_CUDA
#include "cuda/cuda.h"
#endif

typedef struct {
  const gsvae_config *config;
  gsvae_comm *comm;
  gsvae_backend *backend;
  gsvae_dataset train, test;
  gsvae_layout layout;
  long steps_per_epoch, total_steps;
  int max_rows, max_local_chunks; /* the most rows computed at once, the most chunks a rank gets */
  uint32_t *order;
  gsvae_curves curves;
  gsvae_runfile *runfile; /* rank 0 only */
  char *config_yaml;
  char device_note[GSVAE_ERR_LEN]; /* why device.backend=auto trains on the CPU, for the first line */
  long start_step;        /* 0, or the step of the checkpoint resumed from */
  bool progress_bar;      /* rank 0 writing to a terminal */
} trainer;

/* The metric reads over a log interval or an epoch, and the training time they took. */
typedef struct {
  gsvae_loss_sums sums;
  double seconds;
} timed_sums;

/* Whether this rank trains on a GPU: 1, or 0 (why device.backend=auto chose the CPU goes to
 * t->device_note, for the first line), or -1 with the reason in err. */
static int wants_gpu(trainer *t, char *err) {
  const gsvae_config *config = t->config;
#ifdef GSVAE_HAVE_CUDA
  int use_gpu = gsvae_device_use_gpu(config->device_backend, true, gsvae_cuda_device_count(), t->device_note);
#else
  int use_gpu = gsvae_device_use_gpu(config->device_backend, false, 0, t->device_note);
#endif
  if (use_gpu < 0) {
    snprintf(err, GSVAE_ERR_LEN, "%s", t->device_note);
    return -1;
  }
  if (use_gpu && !config->train_flush_denormals)
    return gsvae_errorf(err, "train.flush_denormals=false: the GPU kernels are built with nvcc -ftz=true and always "
                        "flush subnormals; use device.backend=cpu for IEEE subnormals");
  return use_gpu;
}

/* The node's cores and GPUs are shared by every sweep group: each rank's share comes from its
 * place among the world's ranks on the node, found before any split, so nothing here calls a
 * collective beyond `mpi`. 0, or a usage error's code with the reason in err (the same on every
 * rank of `mpi`: the GPU's code missing, or ranks of one NCCL communicator on one GPU). */
static int open_backend(trainer *t, bool gpu, MPI_Comm mpi, const gsvae_node_placement *placement, char *err) {
  const gsvae_config *config = t->config;
#ifdef GSVAE_HAVE_CUDA
  if (gpu) {
    if (gsvae_cuda_select_device(placement, mpi, config->device_comm, err) < 0) return GSVAE_EXIT_USAGE;
    t->backend = gsvae_cuda_backend_create(config, &t->layout, &t->train, &t->test, t->max_rows, t->max_local_chunks);
    void *stream = gsvae_cuda_backend_stream(t->backend);
    t->comm = config->device_comm == GSVAE_COMM_MPI ? gsvae_mpi_staged_comm_create(mpi, stream, config->device_timeout)
                                                    : gsvae_nccl_comm_create(mpi, stream, config->device_timeout);
  }
#else
  (void)gpu; /* wants_gpu said 0 */
#endif
  if (!t->backend) {
    gsvae_float_mode_set(config->train_flush_denormals); /* before the thread count: it restarts the pool */
    gsvae_share_cores_among_local_ranks(placement->local_ranks);
    t->backend = gsvae_cpu_backend_create(config, &t->layout, &t->train, &t->test, t->max_rows, t->max_local_chunks);
    t->comm = gsvae_mpi_comm_create(mpi, config->device_shared_memory);
  }
  /* the reduction inside the backend's update, so that on a GPU the whole step is one CUDA graph */
  t->backend->attach_comm(t->backend, t->comm);
  return 0;
}

long gsvae_train_total_steps(const gsvae_config *config, long train_count) {
  long steps = (long)config->train_epochs * ((train_count + config->train_batch - 1) / config->train_batch);
  return config->train_max_steps > 0 && config->train_max_steps < steps ? config->train_max_steps : steps;
}

/* This rank's checks before anything is built: 0, or an exit code with the reason in err. */
static int load_and_check(trainer *t, int size, char *err) {
  const gsvae_config *config = t->config;
  if (gsvae_dataset_load_dir(config->data_dir, &t->train, &t->test, err)) return GSVAE_EXIT_DATA;
  if (config->train_batch < size) {
    gsvae_errorf(err, "train.batch=%d is smaller than the %d ranks: every rank needs a sample", config->train_batch,
                 size);
    return GSVAE_EXIT_USAGE;
  }
  if (config->train_deterministic && config->train_reduce_chunks < size) {
    gsvae_errorf(err, "train.reduce_chunks=%d is less than the %d ranks: every rank needs a chunk (set "
                 "train.reduce_chunks=%d or more, or train.deterministic=false)", config->train_reduce_chunks, size, size);
    return GSVAE_EXIT_USAGE;
  }
  return 0;
}

/* The run's ranks agree on a failure any of them met, so that none goes on into a collective
 * the others have left. A rank that failed while rank 0 did not prints its own reason. */
static int agree_on_failure(int status, MPI_Comm mpi, int rank, char *err) {
  int codes[2] = {status, rank == 0 ? status : 0}; /* any rank's, rank 0's */
  mpiCheck(MPI_Allreduce(MPI_IN_PLACE, codes, 2, MPI_INT, MPI_MAX, mpi));
  if (codes[0] && !codes[1]) {
    if (status) fprintf(stderr, "gsvae: error on rank %d of this run: %s\n", rank, err);
    else snprintf(err, GSVAE_ERR_LEN, "another rank of this run failed (its message is above)");
  }
  return codes[0];
}

/* 0, or an exit code with the reason in err (the same on every rank of `mpi`). */
static int setup(trainer *t, const gsvae_config *config, MPI_Comm mpi, const gsvae_node_placement *placement,
                 char *err) {
  memset(t, 0, sizeof *t);
  t->config = config;
  int size, rank;
  mpiCheck(MPI_Comm_size(mpi, &size));
  mpiCheck(MPI_Comm_rank(mpi, &rank));
  int status = load_and_check(t, size, err), gpu = 0;
  if (!status && (gpu = wants_gpu(t, err)) < 0) status = GSVAE_EXIT_USAGE;
  status = agree_on_failure(status, mpi, rank, err);
  if (status) return status;
  if (config->data_binarize == GSVAE_BINARIZE_STATIC) {
    gsvae_dataset_binarize_static(&t->train, config->train_seed, 0);
    gsvae_dataset_binarize_static(&t->test, config->train_seed, 1);
  }
  gsvae_layout_build(&t->layout, t->train.dim, config);
  t->steps_per_epoch = (t->train.count + config->train_batch - 1) / config->train_batch;
  t->total_steps = gsvae_train_total_steps(config, t->train.count);
  gsvae_step_capacity(config, size, &t->max_rows, &t->max_local_chunks);
  if ((status = open_backend(t, gpu == 1, mpi, placement, err))) return status;

  t->order = mallocCheck((size_t)t->train.count * sizeof(uint32_t));
  gsvae_curves_init(&t->curves);
  t->config_yaml = gsvae_config_to_yaml(config);
  return 0;
}

/* Rank 0's choice of checkpoint by run.resume: 1 and *ckpt loaded, 0 for a fresh run, or -1
 * with the reason in err. Invalid checkpoints are named and skipped for older ones. */
static int pick_checkpoint(trainer *t, gsvae_checkpoint *ckpt, char *err) {
  const gsvae_config *config = t->config;
  if (strcmp(config->run_resume, "auto") != 0 && strcmp(config->run_resume, "never") != 0) {
    char why[GSVAE_ERR_LEN];
    if (gsvae_ckpt_load(config->run_resume, config, &t->layout, ckpt, why))
      return gsvae_errorf(err, "run.resume: %s", why);
    return 1;
  }
  long *steps;
  int count = gsvae_ckpt_list(config->run_dir, &steps, err);
  if (count < 0) return -1;
  char run_path[GSVAE_PATH_LEN + 16];
  snprintf(run_path, sizeof run_path, "%s/run.h5", config->run_dir);
  int status = 0;
  if (!strcmp(config->run_resume, "never")) {
    if (count > 0 || access(run_path, F_OK) == 0)
      status = gsvae_errorf(err, "run.dir=%s already holds a run (%s) and run.resume=never: pick a new run.dir, "
                            "or resume it with run.resume=auto", config->run_dir,
                            count > 0 ? "checkpoints in ckpt/" : "run.h5");
    free(steps);
    return status;
  }
  int other_model = 0;
  for (int i = 0; i < count && status == 0; i++) {
    char path[GSVAE_PATH_LEN + 32], why[GSVAE_ERR_LEN];
    gsvae_ckpt_path(path, config->run_dir, steps[i]);
    int loaded = gsvae_ckpt_load(path, config, &t->layout, ckpt, why);
    if (loaded == 0) {
      status = 1;
    } else {
      other_model += loaded == GSVAE_CKPT_OTHER_MODEL;
      fprintf(stderr, "gsvae: warning: skipping %s: %s\n",
              loaded == GSVAE_CKPT_OTHER_MODEL ? "a checkpoint of another model" : "an invalid checkpoint", why);
      if (i + 1 < count) continue;
      /* sound checkpoints of another model are the run's own: never advise moving them away */
      if (other_model)
        status = gsvae_errorf(err, "none of the %d checkpoint(s) in %s/ckpt can be resumed by this run: %d hold another "
                              "model (see the warnings above), which resumes only with the keys it was trained with; "
                              "give those keys, or start this run in a new run.dir", count, config->run_dir, other_model);
      else
        status = gsvae_errorf(err, "none of the %d checkpoint(s) in %s/ckpt is valid (see the warnings above); move "
                              "them away to start afresh", count, config->run_dir);
    }
  }
  free(steps);
  return status;
}

static void broadcast_floats(float *buffer, size_t count, MPI_Comm mpi) {
  const size_t chunk = (size_t)1 << 30; /* MPI counts are int */
  for (size_t offset = 0; offset < count; offset += chunk)
    mpiCheck(MPI_Bcast(buffer + offset, (int)(count - offset < chunk ? count - offset : chunk), MPI_FLOAT, 0, mpi));
}

/* Sets the backend's state, fresh or from a checkpoint, and opens run.h5 with the curves so
 * far. Only rank 0 reads the file and broadcasts it: one reader per run instead of one per
 * rank on a shared file system, and every rank surely starts from the same bytes even if the
 * directory changes meanwhile. The other ranks keep no curves (only rank 0 writes them). */
static int restore(trainer *t, timed_sums *interval, timed_sums *epoch_totals, char *err) {
  const gsvae_config *config = t->config;
  gsvae_checkpoint ckpt;
  memset(&ckpt, 0, sizeof ckpt);
  int status = 0;
  if (t->comm->rank == 0) {
    if (gsvae_mkdir_p(config->run_dir, err)) gsvae_abort(GSVAE_EXIT_RUNTIME, "run.dir: %s", err);
    gsvae_ckpt_remove_temporaries(config->run_dir);
    status = pick_checkpoint(t, &ckpt, err);
  }
  mpiCheck(MPI_Bcast(&status, 1, MPI_INT, 0, t->comm->mpi));
  if (status < 0) {
    if (t->comm->rank != 0) snprintf(err, GSVAE_ERR_LEN, "rank 0 found no checkpoint to resume from");
    return GSVAE_EXIT_CHECKPOINT;
  }
  size_t n = t->layout.param_count;
  if (status == 1) {
    if (t->comm->rank != 0) {
      ckpt.params = mallocCheck(n * sizeof(float));
      ckpt.exp_avg = mallocCheck(n * sizeof(float));
      ckpt.exp_avg_sq = mallocCheck(n * sizeof(float));
    }
    mpiCheck(MPI_Bcast(&ckpt.step, 1, MPI_LONG, 0, t->comm->mpi));
    mpiCheck(MPI_Bcast(&ckpt.interval_sums, sizeof ckpt.interval_sums, MPI_BYTE, 0, t->comm->mpi));
    mpiCheck(MPI_Bcast(&ckpt.epoch_sums, sizeof ckpt.epoch_sums, MPI_BYTE, 0, t->comm->mpi));
    broadcast_floats(ckpt.params, n, t->comm->mpi);
    broadcast_floats(ckpt.exp_avg, n, t->comm->mpi);
    broadcast_floats(ckpt.exp_avg_sq, n, t->comm->mpi);
    t->backend->set_state(t->backend, ckpt.params, ckpt.exp_avg, ckpt.exp_avg_sq);
    t->start_step = ckpt.step;
    interval->sums = ckpt.interval_sums;
    epoch_totals->sums = ckpt.epoch_sums;
    if (t->comm->rank == 0) {
      gsvae_curves_free(&t->curves);
      t->curves = ckpt.curves; /* the curves now end at the checkpoint's rows */
      gsvae_curves_init(&ckpt.curves);
      printf("gsvae: resuming from %s/ckpt/step_%08ld.h5\n", config->run_dir, ckpt.step);
    }
    gsvae_ckpt_free(&ckpt);
  } else {
    float *params = mallocCheck(n * sizeof(float));
    float *zeros = callocCheck(n, sizeof(float));
    gsvae_params_init(&t->layout, params, config->train_seed);
    t->backend->set_state(t->backend, params, zeros, zeros);
    free(params);
    free(zeros);
  }
  if (t->comm->rank == 0) {
    /* Recreated from the checkpoint's curves: rows past it are dropped, none are missing. A
     * new inode, not a truncation, so that SWMR readers of the old file never see it rewritten. */
    char path[GSVAE_PATH_LEN + 16];
    snprintf(path, sizeof path, "%s/run.h5", config->run_dir);
    unlink(path);
    t->runfile = gsvae_runfile_create(path, t->config_yaml, t->comm->size, t->backend->name);
    gsvae_runfile_sync_curves(t->runfile, &t->curves);
    t->progress_bar = isatty(STDOUT_FILENO) && !gsvae_started_by_launcher;
  }
  return 0;
}

/* Rank 0 writes the checkpoint of `steps_done` completed steps and prunes old ones; every rank
 * sends it its shard of the optimizer's moments. */
static void write_checkpoint(trainer *t, long steps_done, double tau, const timed_sums *interval,
                             const timed_sums *epoch_totals) {
  const gsvae_config *config = t->config;
  size_t n = t->layout.param_count;
  gsvae_checkpoint ckpt = {.step = steps_done, .epoch = steps_done / t->steps_per_epoch, .tau = tau,
                           .seed = config->train_seed, .curves = t->curves};
  ckpt.params = mallocCheck(n * sizeof(float));
  ckpt.exp_avg = mallocCheck(n * sizeof(float));
  ckpt.exp_avg_sq = mallocCheck(n * sizeof(float));
  t->backend->get_state(t->backend, ckpt.params, ckpt.exp_avg, ckpt.exp_avg_sq);
  t->comm->gather_host(t->comm, ckpt.exp_avg, n);
  t->comm->gather_host(t->comm, ckpt.exp_avg_sq, n);
  if (t->comm->rank == 0) {
    ckpt.interval_sums = interval->sums;
    ckpt.epoch_sums = epoch_totals->sums;
    char err[GSVAE_ERR_LEN];
    if (gsvae_ckpt_write(config->run_dir, &ckpt, &t->layout, t->config_yaml, err))
      gsvae_abort(GSVAE_EXIT_RUNTIME, "writing the checkpoint of step %ld: %s", steps_done, err);
    long keep_every =
        config->run_keep_every * (config->run_ckpt_every > 0 ? config->run_ckpt_every : t->steps_per_epoch);
    gsvae_ckpt_prune(config->run_dir, config->run_keep, keep_every);
  }
  free(ckpt.params);
  free(ckpt.exp_avg);
  free(ckpt.exp_avg_sq);
}

/* The stop signal any rank received, agreed on by all at this step boundary. */
static int agreed_stop_signal(const trainer *t) {
  int received = gsvae_signal_received();
  t->comm->allreduce_max_host(t->comm, &received, 1);
  return received;
}

/* This rank's slice of global step `step`. */
static gsvae_step make_step(const trainer *t, long step) {
  const gsvae_config *config = t->config;
  gsvae_step s;
  s.step = step;
  s.epoch = step / t->steps_per_epoch;
  s.batch_start = (step % t->steps_per_epoch) * config->train_batch;
  long remaining = t->train.count - s.batch_start;
  s.global_count = (int)(remaining < config->train_batch ? remaining : config->train_batch);
  gsvae_step_slice(&s, config, t->comm->rank, t->comm->size);
  s.tau = (float)tau_schedule_value(config, step, t->total_steps);
  return s;
}

/* Unrelaxed loss of the whole test set: blocks of GSVAE_EVAL_BLOCK images, each rank evaluating
 * its share of them, each block's sums in its own slots (so that the all-reduce adds only zeros
 * to them), then added in block order: the same bits on any number of ranks. */
static double test_loss(trainer *t) {
  int count = t->test.count, blocks = (count + GSVAE_EVAL_BLOCK - 1) / GSVAE_EVAL_BLOCK;
  int rank = t->comm->rank, size = t->comm->size;
  double *block_sums = callocCheck((size_t)blocks * GSVAE_METRIC_SLOTS, sizeof(double));
  for (int b = gsvae_rank_first_chunk(blocks, size, rank); b < gsvae_rank_first_chunk(blocks, size, rank + 1); b++) {
    int start = b * GSVAE_EVAL_BLOCK, rows = count - start < GSVAE_EVAL_BLOCK ? count - start : GSVAE_EVAL_BLOCK;
    t->backend->evaluate(t->backend, start, rows, block_sums + (size_t)b * GSVAE_METRIC_SLOTS);
  }
  t->comm->allreduce_sum_host(t->comm, block_sums, blocks * GSVAE_METRIC_SLOTS);
  double loss = 0, samples = 0;
  for (int b = 0; b < blocks; b++) {
    loss += block_sums[(size_t)b * GSVAE_METRIC_SLOTS + GSVAE_METRIC_RELAXED];
    samples += block_sums[(size_t)b * GSVAE_METRIC_SLOTS + GSVAE_METRIC_SAMPLES];
  }
  free(block_sums);
  return samples > 0 ? loss / samples : NAN;
}

static void clear_progress(const trainer *t) {
  if (t->progress_bar) fputs("\r\033[K", stdout);
}

static void show_progress(const trainer *t, long steps_done, long start_step, double elapsed) {
  static double last_shown = -1;
  if (!t->progress_bar || elapsed - last_shown < 0.2) return;
  last_shown = elapsed;
  const int width = 30;
  double fraction = (double)steps_done / t->total_steps;
  double rate = (steps_done - start_step) / (elapsed > 0 ? elapsed : 1e-9);
  long eta = rate > 0 ? (long)((t->total_steps - steps_done) / rate) : 0;
  char bar[width + 1];
  for (int i = 0; i < width; i++) bar[i] = i < (int)(fraction * width) ? '#' : '.';
  bar[width] = '\0';
  printf("\r[%s] %5.1f%% step %ld/%ld ETA %ld:%02ld:%02ld", bar, 100 * fraction, steps_done, t->total_steps,
         eta / 3600, eta / 60 % 60, eta % 60);
  fflush(stdout);
}

static void log_step_row(trainer *t, const gsvae_step *s, const timed_sums *interval) {
  const gsvae_config *config = t->config;
  double unrelaxed = config->train_unrelaxed ? gsvae_loss_sums_mean(&interval->sums, GSVAE_METRIC_UNRELAXED) : NAN;
  double row[GSVAE_STEP_COLUMNS];
  row[GSVAE_STEP_STEP] = (double)(s->step + 1);
  row[GSVAE_STEP_EPOCH] = (double)(s->epoch + 1);
  row[GSVAE_STEP_TAU] = s->tau;
  row[GSVAE_STEP_RELAXED] = gsvae_loss_sums_mean(&interval->sums, GSVAE_METRIC_RELAXED);
  row[GSVAE_STEP_UNRELAXED] = unrelaxed;
  row[GSVAE_STEP_BCE] = gsvae_loss_sums_mean(&interval->sums, GSVAE_METRIC_BCE);
  row[GSVAE_STEP_KL] = gsvae_loss_sums_mean(&interval->sums, GSVAE_METRIC_KL);
  row[GSVAE_STEP_SKIPPED] = (double)interval->sums.skipped;
  gsvae_curve_append(&t->curves.steps, row);
  if (t->comm->rank != 0) return;
  gsvae_runfile_sync_curves(t->runfile, &t->curves);
  clear_progress(t);
  double rate = interval->seconds > 0 ? interval->sums.sum[GSVAE_METRIC_SAMPLES] / interval->seconds : 0;
  printf("step %7ld/%ld | epoch %3ld | tau %.4f | relaxed %9.3f | unrelaxed %9.3f | bce %9.3f | kl %7.3f | %8.0f samples/s%s\n",
         s->step + 1, t->total_steps, s->epoch + 1, s->tau, row[GSVAE_STEP_RELAXED], unrelaxed, row[GSVAE_STEP_BCE],
         row[GSVAE_STEP_KL], rate, interval->sums.skipped ? " | skipped steps!" : "");
  fflush(stdout);
}

static void log_epoch_row(trainer *t, long epoch, const timed_sums *totals) {
  double row[GSVAE_EPOCH_COLUMNS];
  row[GSVAE_EPOCH_EPOCH] = (double)(epoch + 1);
  row[GSVAE_EPOCH_TRAIN_RELAXED] = gsvae_loss_sums_mean(&totals->sums, GSVAE_METRIC_RELAXED);
  row[GSVAE_EPOCH_TRAIN_UNRELAXED] =
      t->config->train_unrelaxed ? gsvae_loss_sums_mean(&totals->sums, GSVAE_METRIC_UNRELAXED) : NAN;
  row[GSVAE_EPOCH_TEST_LOSS] = test_loss(t);
  gsvae_curve_append(&t->curves.epochs, row);
  if (t->comm->rank != 0) return;
  gsvae_runfile_sync_curves(t->runfile, &t->curves);
  clear_progress(t);
  printf("epoch %ld/%d | train relaxed %.3f | train unrelaxed %.3f | test %.3f | %.1f s\n", epoch + 1,
         t->config->train_epochs, row[GSVAE_EPOCH_TRAIN_RELAXED], row[GSVAE_EPOCH_TRAIN_UNRELAXED],
         row[GSVAE_EPOCH_TEST_LOSS], totals->seconds);
  fflush(stdout);
}

/* Also after a failed setup or restore: whatever was built. */
static void teardown(trainer *t) {
  if (t->runfile) gsvae_runfile_close(t->runfile);
  if (t->comm) t->comm->destroy(t->comm); /* first: the NCCL communicator works on the backend's stream */
  if (t->backend) t->backend->destroy(t->backend);
  gsvae_curves_free(&t->curves);
  free(t->config_yaml);
  gsvae_dataset_free(&t->train);
  gsvae_dataset_free(&t->test);
  free(t->order);
}

int gsvae_train(const gsvae_config *config, const gsvae_train_options *options, char *err) {
  trainer t;
  err[0] = '\0';
  gsvae_signals_install();
  timed_sums interval = {0}, epoch_totals = {0};
  int status = setup(&t, config, options->mpi, &options->placement, err);
  if (!status) status = restore(&t, &interval, &epoch_totals, err);
  if (status) {
    teardown(&t);
    return status;
  }
  if (t.comm->rank == 0)
    printf("gsvae: %d rank(s) on %s%s%s%s%s%s | %d train / %d test images | %zu parameters | %ld steps of %d\n",
           t.comm->size, t.backend->name, t.device_note[0] ? " (" : "", t.device_note, t.device_note[0] ? ")" : "",
           t.comm->size > 1 ? " over " : "", t.comm->size > 1 ? t.comm->name : "", t.train.count, t.test.count,
           t.layout.param_count, t.total_steps, config->train_batch);
  int exit_code = GSVAE_EXIT_OK;
  long start_step = t.start_step;
  double started = MPI_Wtime(), mark = started;
  gsvae_watchdog_start(config->run_watchdog);
  for (long step = start_step; step < t.total_steps; step++) {
    gsvae_watchdog_progress(step);
    t.comm->step = step;
    gsvae_step s = make_step(&t, step);
    if (s.batch_start == 0 || step == start_step) {
      gsvae_epoch_permutation(t.order, t.train.count, config->train_seed, s.epoch);
      t.backend->begin_epoch(t.backend, s.epoch, t.order);
    }
    t.backend->forward_backward(t.backend, &s);
    t.backend->update(t.backend, &s);

    bool last = step + 1 == t.total_steps;
    bool epoch_end = (step + 1) % t.steps_per_epoch == 0;
    bool log_due = (step + 1) % config->run_log_every == 0 || last;
    int stop_signal = agreed_stop_signal(&t);
    bool ckpt_due = last || epoch_end || stop_signal || (config->run_ckpt_every > 0 && (step + 1) % config->run_ckpt_every == 0);
    if (log_due || epoch_end || ckpt_due) {
      gsvae_metric_read read;
      t.backend->read_metrics(t.backend, &read);
      if (config->tau_learn) s.tau = read.tau; /* the curve and the checkpoint show the learned tau */
      double now = MPI_Wtime();
      gsvae_loss_sums_add(&interval.sums, &read.sums);
      gsvae_loss_sums_add(&epoch_totals.sums, &read.sums);
      interval.seconds += now - mark;
      epoch_totals.seconds += now - mark;
      mark = now;
      if (log_due) {
        log_step_row(&t, &s, &interval);
        memset(&interval, 0, sizeof interval);
      }
      if (epoch_end) {
        log_epoch_row(&t, s.epoch, &epoch_totals);
        memset(&epoch_totals, 0, sizeof epoch_totals);
        mark = MPI_Wtime(); /* evaluation time is not training throughput */
      }
      if (read.bad_streak >= config->train_max_bad_steps) {
        gsvae_errorf(err, "%ld non-finite steps in a row (train.max_bad_steps=%d): stopped; the checkpoints in "
                     "%s/ckpt are from before the streak", read.bad_streak, config->train_max_bad_steps, config->run_dir);
        exit_code = GSVAE_EXIT_DIVERGED;
        break;
      }
      /* A checkpoint in a non-finite streak could hold a state that only diverges. The streak is
       * agreed by every rank (update() skips a step on all or none). */
      if (ckpt_due && read.bad_streak > 0) {
        if (t.comm->rank == 0) {
          clear_progress(&t);
          fprintf(stderr, "gsvae: warning: no checkpoint at step %ld: %ld non-finite step(s) in a row\n", step + 1,
                  read.bad_streak);
        }
      } else if (ckpt_due)
        write_checkpoint(&t, step + 1, s.tau, &interval, &epoch_totals);
    }
    if (stop_signal) {
      if (t.comm->rank == 0) {
        clear_progress(&t);
        fprintf(stderr, "gsvae: stopped by signal %d after step %ld; resume with run.resume=auto\n", stop_signal,
                step + 1);
      }
      exit_code = GSVAE_EXIT_INTERRUPTED;
      break;
    }
    if (t.comm->rank == 0) show_progress(&t, step + 1, start_step, MPI_Wtime() - started);
  }

  gsvae_watchdog_stop();
  float *params = mallocCheck(t.layout.param_count * sizeof(float));
  t.backend->get_state(t.backend, params, NULL, NULL);
  if (t.comm->rank == 0) {
    gsvae_runfile_write_params(t.runfile, &t.layout, params);
    clear_progress(&t);
    double seconds = MPI_Wtime() - started;
    if (exit_code == GSVAE_EXIT_OK)
      printf("gsvae: done in %.1f s; curves and parameters in %s/run.h5\n", seconds, config->run_dir);
  }
  free(params);
  teardown(&t);
  return exit_code;
}
