/* The in-memory loss curves: growable columns appended a row at a time. */
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "train/curves.h"

static const char *const step_names[GSVAE_STEP_COLUMNS] = {"step", "epoch", "tau", "relaxed", "unrelaxed",
                                                            "bce", "kl", "skipped"};
static const unsigned char step_integer[GSVAE_STEP_COLUMNS] = {1, 1, 0, 0, 0, 0, 0, 1};
static const char *const epoch_names[GSVAE_EPOCH_COLUMNS] = {"epoch", "train_relaxed", "train_unrelaxed",
                                                              "test_loss"};
static const unsigned char epoch_integer[GSVAE_EPOCH_COLUMNS] = {1, 0, 0, 0};

static void table_init(gsvae_curve_table *table, const char *group, int column_count, const char *const *names,
                       const unsigned char *is_integer) {
  memset(table, 0, sizeof *table);
  table->group = group;
  table->column_count = column_count;
  table->names = names;
  table->is_integer = is_integer;
}

void gsvae_curves_init(gsvae_curves *curves) {
  table_init(&curves->steps, "steps", GSVAE_STEP_COLUMNS, step_names, step_integer);
  table_init(&curves->epochs, "epochs", GSVAE_EPOCH_COLUMNS, epoch_names, epoch_integer);
}

void gsvae_curves_free(gsvae_curves *curves) {
  gsvae_curve_table *tables[2] = {&curves->steps, &curves->epochs};
  for (int t = 0; t < 2; t++)
    for (int c = 0; c < tables[t]->column_count; c++) free(tables[t]->columns[c]);
}

void gsvae_curve_append(gsvae_curve_table *table, const double *row) {
  if (table->rows == table->capacity) {
    table->capacity = table->capacity ? 2 * table->capacity : 256;
    for (int c = 0; c < table->column_count; c++) {
      double *grown = realloc(table->columns[c], table->capacity * sizeof(double));
      if (!grown) gsvae_abort(GSVAE_EXIT_RUNTIME, "out of memory growing the %s curves", table->group);
      table->columns[c] = grown;
    }
  }
  for (int c = 0; c < table->column_count; c++) table->columns[c][table->rows] = row[c];
  table->rows++;
}

