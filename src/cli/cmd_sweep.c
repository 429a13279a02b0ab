/* `gsvae sweep SWEEP.yaml [--point I | --list] [key=value ...]`: a grid of configs (sweep_spec.h)
 * trained under one mpirun. The world is split into groups; each group trains points
 * data-parallel on its ranks into <run.dir>/<point-name>/, taking the next untrained point as it
 * frees up (or, with `handout: static`, points g, g + groups, ...). Each point's state is kept in
 * its directory (train/point_status.h): points done at the steps their config asks for are
 * skipped, failed and unfinished ones trained (interrupted ones resume from their checkpoints).
 * --point I trains point I alone on all ranks (one Slurm array task per point); --list prints
 * each point's index, state, name and overrides. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/run_read.h"
#include "core/check.h"
#include "core/files.h"
#include "core/signals.h"
#include "comm/comm.h"
#include "comm/node_placement.h"
#include "comm/shared_counter.h"
#include "model/layout.h"
#include "cli/cli.h"
#include "cli/sweep_spec.h"
#include "train/point_status.h"
#include "train/train.h"

/* What world rank 0 decides before any group trains, broadcast to every rank. */
typedef struct {
  int pending_count;  /* points to train, in hand-out order */
  int *pending;       /* point indices (from `first`) */
  long *steps;        /* per point: the steps its config asks for */
  long *train_images; /* per point: its data's training images */
  int skipped;        /* points already done */
} sweep_plan;

/* A point is done when its file says so for the steps its config asks for now (more epochs
 * later: it resumes from its last checkpoint and goes on). */
static bool is_done(const gsvae_point_status *status, const gsvae_config *config) {
  return status->state == GSVAE_POINT_DONE && gsvae_train_total_steps(config, status->train_images) == status->steps;
}

/* The expected cost of a point relative to the others, to hand out the longest first (a long
 * point started last keeps one group busy while the others idle): images trained x parameters
 * x the estimator's cost per image relative to gs (bench/estimators/results/estimator_cost.md):
 * sf decodes S samples per input, 1 + (S - 1)/4 (3.25 at S = 10; 3.5 measured); grmck draws K
 * conditional samples, 1 + K/100 (2 at K = 100; 2.0 measured); the others 1 (0.8 to 1.0 measured). */
static double expected_cost(const gsvae_config *config, long steps, int input_dim) {
  gsvae_layout layout;
  gsvae_layout_build(&layout, input_dim, config);
  double per_image = 1.0, samples = config->train_estimator_samples;
  if (config->train_estimator == GSVAE_ESTIMATOR_SF) per_image = 1.0 + (samples - 1.0) / 4.0;
  if (config->train_estimator == GSVAE_ESTIMATOR_GRMCK) per_image = 1.0 + samples / 100.0;
  return (double)steps * config->train_batch * (double)layout.param_count * per_image;
}

static const double *sort_costs; /* qsort has no context argument */

static int by_cost_descending(const void *a, const void *b) {
  int p = *(const int *)a, q = *(const int *)b;
  if (sort_costs[p] != sort_costs[q]) return sort_costs[p] < sort_costs[q] ? 1 : -1;
  return p - q; /* equal costs: grid order */
}

/* On world rank 0: every point's data read once per data directory (so a bad one stops the sweep
 * before anything trains), its steps, and the points left to train; 0, or an exit code with the
 * reason in err. */
static int make_plan(const gsvae_sweep_spec *spec, gsvae_config *configs, int count, int max_group_size,
                     sweep_plan *plan, char *err) {
  double *costs = callocCheck((size_t)count, sizeof *costs);
  int *dims = callocCheck((size_t)count, sizeof *dims), status = 0;
  for (int p = 0; p < count && !status; p++) {
    if (configs[p].train_batch < max_group_size) {
      status = GSVAE_EXIT_USAGE;
      gsvae_errorf(err, "point %s: train.batch=%d is smaller than a group's %d ranks", configs[p].run_dir,
                   configs[p].train_batch, max_group_size);
      break;
    }
    int seen = -1;
    for (int q = 0; q < p && seen < 0; q++)
      if (!strcmp(configs[q].data_dir, configs[p].data_dir)) seen = q;
    if (seen >= 0) {
      dims[p] = dims[seen];
      plan->train_images[p] = plan->train_images[seen];
    } else {
      gsvae_dataset train, test;
      if (gsvae_run_load_split(&configs[p], true, &test, err) || gsvae_run_load_split(&configs[p], false, &train, err)) {
        status = GSVAE_EXIT_DATA;
        break;
      }
      dims[p] = train.dim;
      plan->train_images[p] = train.count;
      gsvae_dataset_free(&train);
      gsvae_dataset_free(&test);
    }
    plan->steps[p] = gsvae_train_total_steps(&configs[p], plan->train_images[p]);
    costs[p] = expected_cost(&configs[p], plan->steps[p], dims[p]);
    gsvae_point_status point;
    char why[GSVAE_ERR_LEN];
    if (gsvae_point_status_read(configs[p].run_dir, &point, why))
      fprintf(stderr, "gsvae: warning: %s; training the point again\n", why);
    else if (is_done(&point, &configs[p])) {
      plan->skipped++;
      continue;
    }
    plan->pending[plan->pending_count++] = p;
  }
  if (!status && spec->handout == GSVAE_HANDOUT_DYNAMIC) {
    sort_costs = costs;
    qsort(plan->pending, (size_t)plan->pending_count, sizeof *plan->pending, by_cost_descending);
  }
  free(costs);
  free(dims);
  return status;
}

/* Trains one point on its group, its state file written by the group's rank 0 before and after;
 * a point that fails is recorded and reported, and the group goes on. */
static int train_point(const gsvae_config *config, long steps, long train_images, const gsvae_train_options *options,
                       int group_rank) {
  char err[GSVAE_ERR_LEN], message[GSVAE_ERR_LEN];
  gsvae_point_status status = {.state = GSVAE_POINT_RUNNING, .steps = steps, .train_images = train_images};
  if (group_rank == 0 &&
      (gsvae_mkdir_p(config->run_dir, err) || gsvae_point_status_write(config->run_dir, &status, err)))
    gsvae_abort(GSVAE_EXIT_RUNTIME, "sweep: %s", err);
  int code = gsvae_train(config, options, message);
  if (group_rank != 0) return code;
  status.state = code == GSVAE_EXIT_OK            ? GSVAE_POINT_DONE
                 : code == GSVAE_EXIT_INTERRUPTED ? GSVAE_POINT_INTERRUPTED
                                                  : GSVAE_POINT_FAILED;
  status.exit_code = code;
  snprintf(status.message, sizeof status.message, "%s", code == GSVAE_EXIT_INTERRUPTED ? "" : message);
  if (gsvae_point_status_write(config->run_dir, &status, err)) gsvae_abort(GSVAE_EXIT_RUNTIME, "sweep: %s", err);
  if (status.state == GSVAE_POINT_FAILED) {
    fprintf(stderr, "sweep: point %s failed (exit %d): %s\n", config->run_dir, code, message);
    fflush(stderr);
  }
  return code;
}

static void print_list(const gsvae_sweep_spec *spec, const gsvae_config *configs) {
  for (int p = 0; p < spec->point_count; p++) {
    char name[1024], err[GSVAE_ERR_LEN];
    gsvae_point_status status;
    gsvae_sweep_point_name(spec, p, name, sizeof name);
    if (gsvae_point_status_read(configs[p].run_dir, &status, err)) gsvae_fail(GSVAE_EXIT_USAGE, "sweep: %s", err);
    gsvae_point_state state = status.state == GSVAE_POINT_DONE && !is_done(&status, &configs[p]) ? GSVAE_POINT_TODO
                                                                                                  : status.state;
    printf("%d %-11s %s", p, gsvae_point_state_name(state), name);
    for (int k = 0; k < spec->key_count; k++)
      printf(" %s=%s", spec->keys[k], spec->values[k][gsvae_sweep_value_index(spec, p, k)]);
    printf(" run.dir=%s", configs[p].run_dir);
    if (status.state == GSVAE_POINT_FAILED) printf("  (exit %d: %s)", status.exit_code, status.message);
    if (status.state == GSVAE_POINT_DONE && state == GSVAE_POINT_TODO)
      printf("  (done at %ld steps; the config now asks for %ld)", status.steps,
             gsvae_train_total_steps(&configs[p], status.train_images));
    printf("\n");
  }
}

int gsvae_cmd_sweep(int argc, char **argv) {
  const char *path = NULL;
  int only_point = -1, cli_count = 0;
  bool list = false;
  char err[GSVAE_ERR_LEN] = "";
  for (int i = 0; i < argc; i++) list |= !strcmp(argv[i], "--list");
  if (!list) gsvae_mpi_start(&argc, &argv);
  char **cli = argv;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--list")) continue;
    else if (!strcmp(argv[i], "--point") && i + 1 < argc) {
      char *end;
      only_point = (int)strtol(argv[++i], &end, 10);
      if (*end || !argv[i][0] || only_point < 0)
        gsvae_fail(GSVAE_EXIT_USAGE, "sweep: --point '%s': expected a point index from --list", argv[i]);
    } else if (strchr(argv[i], '=') && argv[i][0] != '-') cli[cli_count++] = argv[i];
    else if (!path && argv[i][0] != '-') path = argv[i];
    else gsvae_fail(GSVAE_EXIT_USAGE, "sweep: unexpected argument '%s'", argv[i]);
  }
  if (!path) gsvae_fail(GSVAE_EXIT_USAGE, "sweep: usage: gsvae sweep SWEEP.yaml [--point I | --list] [key=value ...]");

  static gsvae_sweep_spec spec;
  if (gsvae_sweep_spec_load(path, &spec, err)) gsvae_fail(GSVAE_EXIT_USAGE, "%s", err);
  for (int i = 0; i < cli_count; i++)
    for (int k = 0; k < spec.key_count; k++)
      if (!strncmp(cli[i], spec.keys[k], strlen(spec.keys[k])) && cli[i][strlen(spec.keys[k])] == '=')
        gsvae_fail(GSVAE_EXIT_USAGE, "sweep: %s is swept by %s's grid; change the grid instead of overriding it",
                   spec.keys[k], path);
  gsvae_config sweep_config; /* where the sweep goes: the base and the command line */
  {
    char **overrides = mallocCheck((size_t)(spec.base_count + cli_count + 1) * sizeof(char *));
    for (int i = 0; i < spec.base_count; i++) overrides[i] = spec.base_overrides[i];
    for (int i = 0; i < cli_count; i++) overrides[spec.base_count + i] = cli[i];
    if (gsvae_config_load(&sweep_config, spec.base_path[0] ? spec.base_path : NULL, spec.base_count + cli_count,
                          overrides, err))
      gsvae_fail(GSVAE_EXIT_USAGE, "%s: base config: %s", path, err);
    free(overrides);
  }
  gsvae_config *configs = mallocCheck((size_t)spec.point_count * sizeof *configs);
  for (int p = 0; p < spec.point_count; p++)
    if (gsvae_sweep_point_config(&spec, p, cli_count, cli, sweep_config.run_dir, &configs[p], err))
      gsvae_fail(GSVAE_EXIT_USAGE, "%s: point %d: %s", path, p, err);

  if (list) {
    print_list(&spec, configs);
    free(configs);
    return GSVAE_EXIT_OK;
  }
  if (only_point >= spec.point_count)
    gsvae_fail(GSVAE_EXIT_USAGE, "sweep: --point %d: %s has points 0..%d", only_point, path, spec.point_count - 1);
  int first = only_point >= 0 ? only_point : 0, end = only_point >= 0 ? only_point + 1 : spec.point_count;
  int points = end - first, world = gsvae_world_size;
  int groups = only_point >= 0 ? 1 : spec.groups ? spec.groups : (points < world ? points : world);
  if (groups > world)
    gsvae_fail(GSVAE_EXIT_USAGE, "sweep: %s asks for %d groups but there are %d ranks (mpirun -np N, N >= groups)", path,
               groups, world);
  gsvae_signals_install(); /* a stop signal between points stops the hand-out instead of the process */

  /* Everything that needs the whole world, before it is split: the node view, the plan, the counter. */
  gsvae_train_options options = {MPI_COMM_NULL, gsvae_node_placement_find(MPI_COMM_WORLD)};
  sweep_plan plan = {0, callocCheck((size_t)points, sizeof(int)), callocCheck((size_t)points, sizeof(long)),
                     callocCheck((size_t)points, sizeof(long)), 0};
  int status = 0;
  if (gsvae_world_rank == 0) status = make_plan(&spec, configs + first, points, (world + groups - 1) / groups, &plan, err);
  mpiCheck(MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD));
  if (status) gsvae_fail(status, "sweep: %s", err); /* gsvae_group_rank is still the world rank: rank 0 prints */
  mpiCheck(MPI_Bcast(&plan.pending_count, 1, MPI_INT, 0, MPI_COMM_WORLD));
  mpiCheck(MPI_Bcast(&plan.skipped, 1, MPI_INT, 0, MPI_COMM_WORLD));
  mpiCheck(MPI_Bcast(plan.pending, points, MPI_INT, 0, MPI_COMM_WORLD));
  mpiCheck(MPI_Bcast(plan.steps, points, MPI_LONG, 0, MPI_COMM_WORLD));
  mpiCheck(MPI_Bcast(plan.train_images, points, MPI_LONG, 0, MPI_COMM_WORLD));
  bool dynamic = spec.handout == GSVAE_HANDOUT_DYNAMIC;
  gsvae_shared_counter counter;
  if (dynamic) gsvae_shared_counter_create(&counter, MPI_COMM_WORLD);

  int group_index = (int)((long)gsvae_world_rank * groups / world);
  mpiCheck(MPI_Comm_split(MPI_COMM_WORLD, group_index, gsvae_world_rank, &options.mpi));
  int group_rank, group_size;
  mpiCheck(MPI_Comm_rank(options.mpi, &group_rank));
  mpiCheck(MPI_Comm_size(options.mpi, &group_size));
  gsvae_group_rank = group_rank;
  if (gsvae_world_rank == 0) {
    printf("sweep %s: %d point(s), %d done before, %d to train in %d group(s) over %d rank(s), %s hand-out -> %s\n",
           path, points, plan.skipped, plan.pending_count, groups, world, dynamic ? "dynamic" : "static",
           sweep_config.run_dir);
    fflush(stdout);
  }

  /* outcomes[p]: 0 not trained here, else 1 + the exit code (a MAX over the world gathers them) */
  int *outcomes = callocCheck((size_t)points, sizeof(int));
  for (int taken = 0;; taken++) {
    int slot = plan.pending_count; /* past the end: stop */
    if (group_rank == 0 && !gsvae_signal_received())
      slot = dynamic ? gsvae_shared_counter_next(&counter) : group_index + taken * groups;
    mpiCheck(MPI_Bcast(&slot, 1, MPI_INT, 0, options.mpi));
    if (slot >= plan.pending_count) break;
    int p = plan.pending[slot];
    char name[1024];
    gsvae_sweep_point_name(&spec, first + p, name, sizeof name);
    if (group_rank == 0) {
      printf("sweep: group %d (%d ranks) trains point %d: %s\n", group_index, group_size, first + p, name);
      fflush(stdout);
    }
    int code = train_point(&configs[first + p], plan.steps[p], plan.train_images[p], &options, group_rank);
    if (group_rank == 0) outcomes[p] = 1 + code;
    if (code == GSVAE_EXIT_INTERRUPTED) break;
  }

  if (dynamic) gsvae_shared_counter_free(&counter);
  mpiCheck(MPI_Allreduce(MPI_IN_PLACE, outcomes, points, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
  /* 75 when any point is left to resume (so a Slurm job requeues), else the first failed point's code. */
  int exit_code = GSVAE_EXIT_OK, failed = 0, left = 0;
  for (int slot = 0; slot < plan.pending_count; slot++) {
    int p = plan.pending[slot], code = outcomes[p] - 1;
    if (code < 0 || code == GSVAE_EXIT_INTERRUPTED) left++;
    else if (code != GSVAE_EXIT_OK) failed++;
  }
  for (int p = 0; p < points; p++) {
    int code = outcomes[p] - 1;
    if (code > 0 && code != GSVAE_EXIT_INTERRUPTED && gsvae_world_rank == 0)
      fprintf(stderr, "sweep: point %d (%s) exited %d\n", first + p, configs[first + p].run_dir, code);
    if (code > 0 && code != GSVAE_EXIT_INTERRUPTED && !exit_code) exit_code = code;
  }
  if (left) exit_code = GSVAE_EXIT_INTERRUPTED;
  if (gsvae_world_rank == 0) {
    printf("sweep: %d trained, %d failed, %d left to resume, %d done before; compare with: gsvae compare %s\n",
           plan.pending_count - failed - left, failed, left, plan.skipped, sweep_config.run_dir);
    fflush(stdout);
  }
  free(outcomes);
  free(plan.pending);
  free(plan.steps);
  free(plan.train_images);
  free(configs);
  gsvae_sweep_spec_free(&spec);
  mpiCheck(MPI_Comm_free(&options.mpi));
  mpiCheck(MPI_Finalize());
  return exit_code;
}
