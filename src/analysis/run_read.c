/* The one reader of run.h5 and checkpoints for the analysis commands: resolves a path to a
 * file, reads the config back, the curves and the parameters, and lists the checkpoints. */
#include <dirent.h>
#include <hdf5.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "analysis/run_read.h"
#include "core/check.h"

static bool is_directory(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int compare_paths(const void *a, const void *b) { return strcmp(a, b); }

/* Committed checkpoints are ckpt/step_XXXXXXXX.h5; anything else there (a temporary name
 * being written) is not one yet. */
static void list_checkpoints(gsvae_run *run) {
  char ckpt_dir[GSVAE_PATH_LEN];
  snprintf(ckpt_dir, sizeof ckpt_dir, "%.4000s/ckpt", run->dir);
  DIR *dir = opendir(ckpt_dir);
  if (!dir) return;
  struct dirent *entry;
  while ((entry = readdir(dir))) {
    const char *name = entry->d_name;
    if (strlen(name) != strlen("step_00000000.h5") || strncmp(name, "step_", 5) ||
        strspn(name + 5, "0123456789") != 8 || strcmp(name + 13, ".h5"))
      continue;
    run->checkpoints = realloc(run->checkpoints, (size_t)(run->checkpoint_count + 1) * sizeof *run->checkpoints);
    if (!run->checkpoints) gsvae_abort(GSVAE_EXIT_RUNTIME, "out of memory listing %s", ckpt_dir);
    snprintf(run->checkpoints[run->checkpoint_count++], GSVAE_PATH_LEN, "%.4000s/%.64s", ckpt_dir, entry->d_name);
  }
  closedir(dir);
  if (run->checkpoint_count)
    qsort(run->checkpoints, (size_t)run->checkpoint_count, sizeof *run->checkpoints, compare_paths);
}

static bool link_exists(hid_t file, const char *path) {
  /* H5Lexists needs every parent to exist, so walk the path a level at a time. */
  char partial[256];
  for (const char *slash = path;; slash++) {
    slash = strchr(slash, '/');
    size_t length = slash ? (size_t)(slash - path) : strlen(path);
    if (length >= sizeof partial) return false;
    memcpy(partial, path, length);
    partial[length] = '\0';
    if (H5Lexists(file, partial, H5P_DEFAULT) <= 0) return false;
    if (!slash) return true;
  }
}

/* A string attribute, fixed or variable length; malloc'd, NULL when absent or not a string. */
static char *read_string_attribute(hid_t object, const char *name) {
  if (H5Aexists(object, name) <= 0) return NULL;
  hid_t attr = h5Check(H5Aopen(object, name, H5P_DEFAULT));
  hid_t type = h5Check(H5Aget_type(attr));
  char *text = NULL;
  if (H5Tget_class(type) == H5T_STRING) {
    if (h5Check(H5Tis_variable_str(type))) {
      hid_t memtype = h5Check(H5Tcopy(H5T_C_S1));
      h5Check(H5Tset_size(memtype, H5T_VARIABLE));
      h5Check(H5Tset_cset(memtype, H5Tget_cset(type)));
      char *value = NULL;
      h5Check(H5Aread(attr, memtype, &value));
      text = strdup(value ? value : "");
      h5Check(H5free_memory(value));
      h5Check(H5Tclose(memtype));
    } else {
      size_t size = H5Tget_size(type);
      text = callocCheck(size + 1, 1);
      h5Check(H5Aread(attr, type, text));
    }
  }
  h5Check(H5Tclose(type));
  h5Check(H5Aclose(attr));
  return text;
}

static bool read_number_attribute(hid_t object, const char *name, double *value) {
  if (H5Aexists(object, name) <= 0) return false;
  hid_t attr = h5Check(H5Aopen(object, name, H5P_DEFAULT));
  hid_t type = h5Check(H5Aget_type(attr));
  H5T_class_t class = H5Tget_class(type);
  bool ok = class == H5T_INTEGER || class == H5T_FLOAT;
  if (ok) h5Check(H5Aread(attr, H5T_NATIVE_DOUBLE, value));
  h5Check(H5Tclose(type));
  h5Check(H5Aclose(attr));
  return ok;
}

/* Dimensions of a dataset; returns its rank. */
static int dataset_shape(hid_t dataset, hsize_t dims[2]) {
  hid_t space = h5Check(H5Dget_space(dataset));
  int rank = (int)h5Check(H5Sget_simple_extent_ndims(space));
  if (rank <= 2) h5Check(H5Sget_simple_extent_dims(space, dims, NULL));
  h5Check(H5Sclose(space));
  return rank;
}

static int read_curve_table(hid_t file, const char *file_name, gsvae_curve_table *table, char *err) {
  char path[128];
  snprintf(path, sizeof path, "curves/%s", table->group);
  if (!link_exists(file, path)) return 0; /* nothing logged */
  size_t rows = (size_t)-1;
  for (int c = 0; c < table->column_count; c++) {
    snprintf(path, sizeof path, "curves/%s/%s", table->group, table->names[c]);
    if (!link_exists(file, path)) return gsvae_errorf(err, "%s: dataset /%s is missing", file_name, path);
    hid_t dataset = h5Check(H5Dopen2(file, path, H5P_DEFAULT));
    hsize_t dims[2] = {0, 0};
    if (dataset_shape(dataset, dims) != 1) {
      h5Check(H5Dclose(dataset));
      return gsvae_errorf(err, "%s: dataset /%s is not 1-D", file_name, path);
    }
    free(table->columns[c]);
    table->columns[c] = mallocCheck((size_t)dims[0] * sizeof(double));
    if (dims[0]) h5Check(H5Dread(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, table->columns[c]));
    h5Check(H5Dclose(dataset));
    if ((size_t)dims[0] < rows) rows = (size_t)dims[0];
  }
  table->rows = table->capacity = rows;
  return 0;
}

static int read_params(hid_t file, gsvae_run *run, char *err) {
  gsvae_layout *layout = &run->layout;
  char name[32], path[64];
  int rank;
  size_t shape[2], offset, length;
  /* The config does not hold the input size: the first weight matrix does. */
  gsvae_layout_build(layout, 1, &run->config);
  gsvae_layout_tensor(layout, 0, name, &rank, shape, &offset, &length);
  snprintf(path, sizeof path, "params/%s", name);
  if (!link_exists(file, path)) return gsvae_errorf(err, "%s: dataset /%s is missing", run->file, path);
  hid_t first = h5Check(H5Dopen2(file, path, H5P_DEFAULT));
  hsize_t dims[2] = {0, 0};
  int first_rank = dataset_shape(first, dims);
  h5Check(H5Dclose(first));
  if (first_rank != 2 || dims[1] == 0) return gsvae_errorf(err, "%s: /%s is not a weight matrix", run->file, path);
  gsvae_layout_build(layout, (int)dims[1], &run->config);

  run->params = mallocCheck(layout->param_count * sizeof(float));
  for (int t = 0; t < gsvae_layout_tensor_count(layout); t++) {
    gsvae_layout_tensor(layout, t, name, &rank, shape, &offset, &length);
    snprintf(path, sizeof path, "params/%s", name);
    if (!link_exists(file, path)) return gsvae_errorf(err, "%s: dataset /%s is missing", run->file, path);
    hid_t dataset = h5Check(H5Dopen2(file, path, H5P_DEFAULT));
    int stored_rank = dataset_shape(dataset, dims);
    bool match = stored_rank == rank && dims[0] == shape[0] && (rank == 1 || dims[1] == shape[1]);
    if (match)
      h5Check(H5Dread(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, run->params + offset));
    h5Check(H5Dclose(dataset));
    if (!match)
      return gsvae_errorf(err, "%s: /%s does not have the shape the stored config implies (%zu%s%zu)", run->file,
                          path, shape[0], rank == 2 ? " x " : "", rank == 2 ? shape[1] : (size_t)0);
  }
  return 0;
}

static void set_run_dir(gsvae_run *run) {
  char copy[GSVAE_PATH_LEN];
  snprintf(copy, sizeof copy, "%s", run->file);
  snprintf(run->dir, sizeof run->dir, "%s", dirname(copy));
  if (run->is_checkpoint) {
    snprintf(copy, sizeof copy, "%s", run->dir);
    if (!strcmp(basename(copy), "ckpt")) {
      snprintf(copy, sizeof copy, "%s", run->dir);
      snprintf(run->dir, sizeof run->dir, "%s", dirname(copy));
    }
  }
}

/* A file that is not HDF5 is bad input, not an HDF5 failure: no error stack for it. A run.h5
 * that training holds open for writing refuses a plain open; it is read anyway (SWMR read, no
 * lock), which is consistent enough for curves the writer flushes row by row. */
static hid_t open_quietly(const char *path) {
  H5E_auto2_t handler;
  void *handler_data;
  h5Check(H5Eget_auto2(H5E_DEFAULT, &handler, &handler_data));
  h5Check(H5Eset_auto2(H5E_DEFAULT, NULL, NULL));
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) {
    hid_t access = h5Check(H5Pcreate(H5P_FILE_ACCESS));
    h5Check(H5Pset_file_locking(access, false, true));
    file = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, access);
    h5Check(H5Pclose(access));
  }
  h5Check(H5Eset_auto2(H5E_DEFAULT, handler, handler_data));
  return file;
}

static int read_file(gsvae_run *run, bool need_params, char *err) {
  hid_t file = open_quietly(run->file);
  if (file < 0) return gsvae_errorf(err, "%s: cannot open as an HDF5 file (expected a run.h5 or a checkpoint)", run->file);

  int status = 0;
  double number;
  run->config_yaml = read_string_attribute(file, "config");
  run->is_checkpoint = H5Aexists(file, "step") > 0;
  set_run_dir(run);
  gsvae_config_defaults(&run->config);
  if (!run->config_yaml)
    status = gsvae_errorf(err, "%s: no string attribute 'config' at the root: not a gsvae run.h5 or checkpoint",
                          run->file);
  else
    status = gsvae_config_load_yaml_text(&run->config, run->config_yaml, strlen(run->config_yaml), run->file, err);
  if (!status) status = read_curve_table(file, run->file, &run->curves.steps, err);
  if (!status) status = read_curve_table(file, run->file, &run->curves.epochs, err);
  if (!status) {
    const gsvae_curve_table *steps = &run->curves.steps;
    run->step = steps->rows ? (long)steps->columns[GSVAE_STEP_STEP][steps->rows - 1] : 0;
    run->tau = steps->rows ? steps->columns[GSVAE_STEP_TAU][steps->rows - 1] : NAN;
    if (read_number_attribute(file, "step", &number)) run->step = (long)number;
    if (read_number_attribute(file, "tau", &number)) run->tau = number;
    if (link_exists(file, "params")) status = read_params(file, run, err);
    else if (need_params)
      status = gsvae_errorf(err, "%s: no /params (a run still training writes them at the end; pass a checkpoint)",
                            run->file);
  }
  h5Check(H5Fclose(file));
  return status;
}

static bool has_params(const char *path) {
  hid_t file = open_quietly(path);
  if (file < 0) return false;
  bool found = H5Lexists(file, "params", H5P_DEFAULT) > 0;
  h5Check(H5Fclose(file));
  return found;
}

int gsvae_run_open(gsvae_run *run, const char *path, bool need_params, char *err) {
  memset(run, 0, sizeof *run);
  gsvae_curves_init(&run->curves);
  run->tau = NAN;
  if (is_directory(path)) {
    snprintf(run->dir, sizeof run->dir, "%s", path);
    list_checkpoints(run);
    snprintf(run->file, sizeof run->file, "%s/run.h5", path);
    bool use_checkpoint = !is_file(run->file) || (need_params && !has_params(run->file));
    if (use_checkpoint && run->checkpoint_count)
      snprintf(run->file, sizeof run->file, "%s", run->checkpoints[run->checkpoint_count - 1]);
    else if (!is_file(run->file))
      return gsvae_errorf(err, "%s: no run.h5 and no checkpoints in %s/ckpt: not a run directory", path, path);
  } else if (is_file(path)) {
    snprintf(run->file, sizeof run->file, "%s", path);
  } else {
    return gsvae_errorf(err, "%s: no such file or directory (expected a run directory, run.h5 or a checkpoint)",
                        path);
  }
  if (read_file(run, need_params, err)) return -1;
  if (!run->checkpoints) list_checkpoints(run);
  return 0;
}

int gsvae_run_override(gsvae_run *run, int count, char *const *overrides, char *err) {
  for (int i = 0; i < count; i++) {
    char key[128];
    const char *equals = strchr(overrides[i], '=');
    size_t length = equals ? (size_t)(equals - overrides[i]) : 0;
    if (!equals || length == 0 || length >= sizeof key)
      return gsvae_errorf(err, "'%s': expected key=value (e.g. data.dir=/path/to/mnist)", overrides[i]);
    memcpy(key, overrides[i], length);
    key[length] = '\0';
    if (gsvae_config_set(&run->config, key, equals + 1, err)) return -1;
  }
  return 0;
}

void gsvae_run_free(gsvae_run *run) {
  free(run->config_yaml);
  gsvae_curves_free(&run->curves);
  free(run->checkpoints);
  free(run->params);
  memset(run, 0, sizeof *run);
}

const double *gsvae_curve_column(const gsvae_curve_table *table, const char *name) {
  for (int c = 0; c < table->column_count; c++)
    if (!strcmp(table->names[c], name)) return table->columns[c];
  return NULL;
}

int gsvae_run_load_split(const gsvae_config *config, bool test, gsvae_dataset *dataset, char *err) {
  gsvae_dataset train, test_set;
  if (gsvae_dataset_load_dir(config->data_dir, &train, &test_set, err)) return -1;
  if (config->data_binarize == GSVAE_BINARIZE_STATIC) {
    gsvae_dataset_binarize_static(test ? &test_set : &train, config->train_seed, test ? 1 : 0);
  }
  *dataset = test ? test_set : train;
  gsvae_dataset_free(test ? &train : &test_set);
  return 0;
}
