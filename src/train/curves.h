/* The loss curves held in memory while training: step rows (every run.log_every steps) and
 * epoch rows, column by column, as run.h5 and checkpoints store them (/curves/steps/<col>). */
#pragma once
#include <stddef.h>

enum { GSVAE_STEP_STEP, GSVAE_STEP_EPOCH, GSVAE_STEP_TAU, GSVAE_STEP_RELAXED, GSVAE_STEP_UNRELAXED,
       GSVAE_STEP_BCE, GSVAE_STEP_KL, GSVAE_STEP_SKIPPED, GSVAE_STEP_COLUMNS };
enum { GSVAE_EPOCH_EPOCH, GSVAE_EPOCH_TRAIN_RELAXED, GSVAE_EPOCH_TRAIN_UNRELAXED, GSVAE_EPOCH_TEST_LOSS,
       GSVAE_EPOCH_COLUMNS };

typedef struct {
  const char *group;               /* "steps" or "epochs" */
  int column_count;
  const char *const *names;        /* dataset names */
  const unsigned char *is_integer; /* stored as int64, else float64 */
  double *columns[GSVAE_STEP_COLUMNS];
  size_t rows, capacity;
} gsvae_curve_table;

typedef struct {
  gsvae_curve_table steps, epochs;
} gsvae_curves;

void gsvae_curves_init(gsvae_curves *curves);
void gsvae_curves_free(gsvae_curves *curves);
void gsvae_curve_append(gsvae_curve_table *table, const double *row);
