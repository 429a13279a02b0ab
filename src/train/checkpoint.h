/* Checkpoints: run.dir/ckpt/step_XXXXXXXX.h5 (XXXXXXXX = steps completed), written atomically by
 * rank 0, validated on load (structure, shapes, config, checksum), listed and pruned. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "core/config.h"
#include "train/curves.h"
#include "model/layout.h"
#include "model/loss_sums.h"

/* Layout of a checkpoint file (format 1):
 *   /params/<name>, /optimizer/exp_avg/<name>, /optimizer/exp_avg_sq/<name>  float32, state_dict
 *       names and shapes (gsvae_layout_tensor)
 *   /curves/steps/<col>, /curves/epochs/<col>  the curves so far, as in run.h5
 *   attributes on /: format, step (steps completed; the next step's optimizer t is step+1), epoch
 *       (epochs completed), tau (of the last step), seed, config (resolved YAML), interval_sums
 *       and epoch_sums (the loss sums of the unfinished log interval and epoch: its
 *       GSVAE_METRIC_SLOTS sums, then steps and skipped steps: GSVAE_CKPT_SUMS doubles),
 *       checksum: zlib CRC-32 over params, exp_avg, exp_avg_sq (float32 little-endian, each in
 *       state_dict order), then the curve columns (float64, steps then epochs, column order),
 *       then interval_sums and epoch_sums.
 * The data position is not stored: the epoch order is a pure function of (seed, epoch) and the
 * noise of (seed, step), so the step is the whole position. */
#define GSVAE_CKPT_FORMAT 1

#define GSVAE_CKPT_SUMS (GSVAE_METRIC_SLOTS + 2)

typedef struct {
  long step, epoch;
  double tau;
  uint64_t seed;
  float *params, *exp_avg, *exp_avg_sq; /* layout->param_count each */
  gsvae_loss_sums interval_sums, epoch_sums; /* of the log interval and the epoch it cuts in two */
  gsvae_curves curves;
} gsvae_checkpoint;

/* run_dir/ckpt/step_XXXXXXXX.h5 into path[GSVAE_PATH_LEN + 32]. */
void gsvae_ckpt_path(char *path, const char *run_dir, long step);

/* Writes the checkpoint under a temporary name in run_dir/ckpt, fsyncs it, renames it to its
 * name and fsyncs the directory. Returns 0, or -1 with a message (the temporary is removed). */
int gsvae_ckpt_write(const char *run_dir, const gsvae_checkpoint *ckpt, const gsvae_layout *layout,
                     const char *config_yaml, char *err);

/* What gsvae_ckpt_load returns for a sound checkpoint of another model (a model key, tau.learn,
 * sf's moving average or train.optimizer differs from this run's; the message names it), -1 for a
 * damaged one. */
enum { GSVAE_CKPT_OTHER_MODEL = -2 };

/* Loads and validates path against the running config and layout: structure, shapes, the
 * model keys of the stored config (a differing one is named: GSVAE_CKPT_OTHER_MODEL), the
 * checksum. Any other key may differ: each that does is named in one note on stderr (run.*,
 * device.*, train.epochs and train.max_steps aside). Fills ckpt (buffers malloc'd;
 * gsvae_ckpt_free) and returns 0, or -1 with a message naming the file. */
int gsvae_ckpt_load(const char *path, const gsvae_config *config, const gsvae_layout *layout,
                    gsvae_checkpoint *ckpt, char *err);
/* The same on an in-memory file image (the fuzzing entry point); name is for messages. */
int gsvae_ckpt_load_image(const void *image, size_t size, const char *name, const gsvae_config *config,
                          const gsvae_layout *layout, gsvae_checkpoint *ckpt, char *err);
void gsvae_ckpt_free(gsvae_checkpoint *ckpt);

/* Steps of the checkpoints named step_XXXXXXXX.h5 in run_dir/ckpt, newest first (temporary
 * files never match); *steps is malloc'd. Returns the count, or -1 with a message. */
int gsvae_ckpt_list(const char *run_dir, long **steps, char *err);
/* Removes leftover temporary files of interrupted writes. */
void gsvae_ckpt_remove_temporaries(const char *run_dir);
/* Keeps the `keep` newest checkpoints and, when keep_every_steps > 0, those whose step is a
 * multiple of it; removes the others. */
void gsvae_ckpt_prune(const char *run_dir, int keep, long keep_every_steps);
