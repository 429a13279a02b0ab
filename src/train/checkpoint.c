/* Checkpoint files (see checkpoint.h): the atomic write, the validating load (reported, never a
 * crash: the fuzz target drives it), listing, pruning. */
#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "core/check.h"
#include "train/checkpoint.h"
#include "train/runfile.h"
#include "core/files.h"

static const char *const tensor_groups[3] = {"params", "optimizer/exp_avg", "optimizer/exp_avg_sq"};

void gsvae_ckpt_path(char *path, const char *run_dir, long step) {
  snprintf(path, GSVAE_PATH_LEN + 32, "%s/ckpt/step_%08ld.h5", run_dir, step);
}

static uLong crc_bytes(uLong crc, const void *data, size_t bytes) {
  const unsigned char *p = data;
  while (bytes > 0) { /* crc32 takes a uInt length */
    uInt n = bytes > (1u << 30) ? (1u << 30) : (uInt)bytes;
    crc = crc32(crc, p, n);
    p += n;
    bytes -= n;
  }
  return crc;
}

/* The loss sums as the file stores them (checkpoint.h). */
static void sums_to_attribute(const gsvae_loss_sums *sums, double attribute[GSVAE_CKPT_SUMS]) {
  for (int s = 0; s < GSVAE_METRIC_SLOTS; s++) attribute[s] = sums->sum[s];
  attribute[GSVAE_METRIC_SLOTS] = (double)sums->steps;
  attribute[GSVAE_METRIC_SLOTS + 1] = (double)sums->skipped;
}

static void sums_from_attribute(gsvae_loss_sums *sums, const double attribute[GSVAE_CKPT_SUMS]) {
  for (int s = 0; s < GSVAE_METRIC_SLOTS; s++) sums->sum[s] = attribute[s];
  sums->steps = (long long)attribute[GSVAE_METRIC_SLOTS];
  sums->skipped = (long long)attribute[GSVAE_METRIC_SLOTS + 1];
}

/* sums: the loss sums as stored, the interval's GSVAE_CKPT_SUMS then the epoch's. */
static uint32_t checkpoint_checksum(const gsvae_checkpoint *ckpt, size_t param_count, const double *sums) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const float *buffers[3] = {ckpt->params, ckpt->exp_avg, ckpt->exp_avg_sq};
  for (int b = 0; b < 3; b++) crc = crc_bytes(crc, buffers[b], param_count * sizeof(float));
  const gsvae_curve_table *tables[2] = {&ckpt->curves.steps, &ckpt->curves.epochs};
  for (int t = 0; t < 2; t++)
    for (int c = 0; c < tables[t]->column_count; c++)
      crc = crc_bytes(crc, tables[t]->columns[c], tables[t]->rows * sizeof(double));
  crc = crc_bytes(crc, sums, 2 * GSVAE_CKPT_SUMS * sizeof(double));
  return (uint32_t)crc;
}

/* ---- writing ---- */

/* Fixed-length: a variable-length string lives in the global heap, which carries no checksum
 * and on which HDF5 1.10 can loop forever when it is corrupted. */
static void write_string_attribute(hid_t object, const char *name, const char *text) {
  hid_t type = h5Check(H5Tcopy(H5T_C_S1));
  h5Check(H5Tset_size(type, strlen(text) + 1));
  h5Check(H5Tset_cset(type, H5T_CSET_UTF8));
  gsvae_h5_write_attribute(object, name, type, type, 0, text);
  h5Check(H5Tclose(type));
}

static void write_file(const char *path, const gsvae_checkpoint *ckpt, const gsvae_layout *layout,
                       const char *config_yaml) {
  /* The latest format checksums every metadata block, so a flipped byte there is reported
   * as such instead of being read as something else. */
  hid_t access = h5Check(H5Pcreate(H5P_FILE_ACCESS));
  h5Check(H5Pset_libver_bounds(access, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST));
  hid_t file = h5Check(H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, access));
  const float *buffers[3] = {ckpt->params, ckpt->exp_avg, ckpt->exp_avg_sq};
  for (int b = 0; b < 3; b++) gsvae_tensors_h5_write(file, tensor_groups[b], layout, buffers[b]);
  gsvae_curves_h5_write(file, &ckpt->curves);
  long format = GSVAE_CKPT_FORMAT;
  double sums[2][GSVAE_CKPT_SUMS];
  sums_to_attribute(&ckpt->interval_sums, sums[0]);
  sums_to_attribute(&ckpt->epoch_sums, sums[1]);
  uint32_t checksum = checkpoint_checksum(ckpt, layout->param_count, (const double *)sums);
  gsvae_h5_write_attribute(file, "format", H5T_STD_I64LE, H5T_NATIVE_LONG, 0, &format);
  gsvae_h5_write_attribute(file, "step", H5T_STD_I64LE, H5T_NATIVE_LONG, 0, &ckpt->step);
  gsvae_h5_write_attribute(file, "epoch", H5T_STD_I64LE, H5T_NATIVE_LONG, 0, &ckpt->epoch);
  gsvae_h5_write_attribute(file, "tau", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &ckpt->tau);
  gsvae_h5_write_attribute(file, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &ckpt->seed);
  gsvae_h5_write_attribute(file, "interval_sums", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, GSVAE_CKPT_SUMS, sums[0]);
  gsvae_h5_write_attribute(file, "epoch_sums", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, GSVAE_CKPT_SUMS, sums[1]);
  gsvae_h5_write_attribute(file, "checksum", H5T_STD_U32LE, H5T_NATIVE_UINT32, 0, &checksum);
  write_string_attribute(file, "config", config_yaml);
  h5Check(H5Fflush(file, H5F_SCOPE_GLOBAL));
  h5Check(H5Fclose(file));
  h5Check(H5Pclose(access));
}

int gsvae_ckpt_write(const char *run_dir, const gsvae_checkpoint *ckpt, const gsvae_layout *layout,
                     const char *config_yaml, char *err) {
  char dir[GSVAE_PATH_LEN + 32], temporary[GSVAE_PATH_LEN + 64], path[GSVAE_PATH_LEN + 32];
  snprintf(dir, sizeof dir, "%s/ckpt", run_dir);
  if (gsvae_mkdir_p(dir, err)) return -1;
  snprintf(temporary, sizeof temporary, "%s/.step_%08ld.h5.tmp", dir, ckpt->step);
  gsvae_ckpt_path(path, run_dir, ckpt->step);
  write_file(temporary, ckpt, layout, config_yaml);
  if (gsvae_fsync_path(temporary, err) || gsvae_rename_durable(temporary, path, err)) {
    unlink(temporary);
    return -1;
  }
  return 0;
}

/* ---- loading: every check names the file and what was expected ---- */

static int read_attribute(hid_t file, const char *name, hid_t memory_type, H5T_class_t type_class, hssize_t count,
                          void *value, const char *file_name, char *err) {
  if (H5Aexists(file, name) <= 0) return gsvae_errorf(err, "%s: attribute '%s' is missing", file_name, name);
  hid_t attribute = H5Aopen(file, name, H5P_DEFAULT);
  if (attribute < 0) return gsvae_errorf(err, "%s: cannot open attribute '%s'", file_name, name);
  hid_t type = H5Aget_type(attribute), space = H5Aget_space(attribute);
  int status = 0;
  if (type < 0 || space < 0 || H5Tget_class(type) != type_class || H5Sget_simple_extent_npoints(space) != count)
    status = gsvae_errorf(err, "%s: attribute '%s' has the wrong type or size (expected %lld %s value(s))", file_name,
                          name, (long long)count, type_class == H5T_FLOAT ? "float" : "integer");
  else if (H5Aread(attribute, memory_type, value) < 0)
    status = gsvae_errorf(err, "%s: cannot read attribute '%s'", file_name, name);
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  H5Aclose(attribute);
  return status;
}

/* A fixed-length string attribute (as written above) into a malloc'd string. */
static char *read_string_attribute(hid_t file, const char *name, const char *file_name, char *err) {
  if (H5Aexists(file, name) <= 0) return gsvae_errorf(err, "%s: attribute '%s' is missing", file_name, name), NULL;
  hid_t attribute = H5Aopen(file, name, H5P_DEFAULT);
  hid_t type = attribute >= 0 ? H5Aget_type(attribute) : -1;
  hid_t space = attribute >= 0 ? H5Aget_space(attribute) : -1;
  char *text = NULL;
  size_t size = type >= 0 ? H5Tget_size(type) : 0;
  if (type < 0 || space < 0 || H5Tget_class(type) != H5T_STRING || H5Tis_variable_str(type) != 0 ||
      H5Sget_simple_extent_npoints(space) != 1 || size == 0) {
    gsvae_errorf(err, "%s: attribute '%s' is not a fixed-length string", file_name, name);
  } else {
    text = callocCheck(size + 1, 1);
    if (H5Aread(attribute, type, text) < 0) {
      free(text);
      text = NULL;
      gsvae_errorf(err, "%s: cannot read attribute '%s'", file_name, name);
    }
  }
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  if (attribute >= 0) H5Aclose(attribute);
  return text;
}

/* Opens a float dataset at path whose shape must be dims[0..rank), rank 1 or 2. */
static int read_float_dataset(hid_t file, const char *path, int rank, const size_t *dims, hid_t memory_type,
                              void *out, const char *file_name, char *err) {
  if (H5Lexists(file, path, H5P_DEFAULT) <= 0) return gsvae_errorf(err, "%s: dataset '%s' is missing", file_name, path);
  hid_t dataset = H5Dopen2(file, path, H5P_DEFAULT);
  if (dataset < 0) return gsvae_errorf(err, "%s: '%s' is not a dataset", file_name, path);
  hid_t type = H5Dget_type(dataset), space = H5Dget_space(dataset);
  hsize_t file_dims[2] = {0, 0};
  int file_rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  int status = 0;
  if (type < 0 || (H5Tget_class(type) != H5T_FLOAT && H5Tget_class(type) != H5T_INTEGER))
    status = gsvae_errorf(err, "%s: dataset '%s' is not numeric", file_name, path);
  else if (file_rank != rank || H5Sget_simple_extent_dims(space, file_dims, NULL) != rank ||
           file_dims[0] != dims[0] || (rank == 2 && file_dims[1] != dims[1]))
    status = gsvae_errorf(err, "%s: dataset '%s' has shape (%llu%s%llu) of rank %d, expected (%zu%s%zu)", file_name,
                          path, (unsigned long long)file_dims[0], file_rank == 2 ? ", " : ") [", (unsigned long long)file_dims[1],
                          file_rank, dims[0], rank == 2 ? ", " : ") [", rank == 2 ? dims[1] : 0);
  else if (H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    status = gsvae_errorf(err, "%s: cannot read dataset '%s' (truncated or corrupted file?)", file_name, path);
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  H5Dclose(dataset);
  return status;
}

static int read_tensors(hid_t file, int group, const gsvae_layout *layout, float *buffer, const char *file_name,
                        char *err) {
  for (int t = 0; t < gsvae_layout_tensor_count(layout); t++) {
    char name[32], path[96];
    int rank;
    size_t shape[2], offset, length;
    gsvae_layout_tensor(layout, t, name, &rank, shape, &offset, &length);
    snprintf(path, sizeof path, "%s/%s", tensor_groups[group], name);
    if (read_float_dataset(file, path, rank, shape, H5T_NATIVE_FLOAT, buffer + offset, file_name, err)) return -1;
  }
  return 0;
}

/* The length of a 1-D dataset, bounded by what the file can actually hold. */
static int column_length(hid_t file, const char *path, size_t *rows, const char *file_name, char *err) {
  if (H5Lexists(file, path, H5P_DEFAULT) <= 0) return gsvae_errorf(err, "%s: dataset '%s' is missing", file_name, path);
  hid_t dataset = H5Dopen2(file, path, H5P_DEFAULT);
  if (dataset < 0) return gsvae_errorf(err, "%s: '%s' is not a dataset", file_name, path);
  hid_t space = H5Dget_space(dataset);
  hsize_t dims[1] = {0};
  int status = 0;
  if (space < 0 || H5Sget_simple_extent_ndims(space) != 1 || H5Sget_simple_extent_dims(space, dims, NULL) != 1)
    status = gsvae_errorf(err, "%s: dataset '%s' is not 1-D", file_name, path);
  else if (dims[0] > H5Dget_storage_size(dataset) / 4)
    status = gsvae_errorf(err, "%s: dataset '%s' claims %llu rows that the file does not hold", file_name, path,
                          (unsigned long long)dims[0]);
  *rows = dims[0];
  if (space >= 0) H5Sclose(space);
  H5Dclose(dataset);
  return status;
}

static int read_curve_table(hid_t file, gsvae_curve_table *table, const char *file_name, char *err) {
  size_t rows = 0;
  for (int c = 0; c < table->column_count; c++) {
    char path[96];
    size_t column_rows = 0;
    snprintf(path, sizeof path, "curves/%s/%s", table->group, table->names[c]);
    if (column_length(file, path, &column_rows, file_name, err)) return -1;
    if (c > 0 && column_rows != rows)
      return gsvae_errorf(err, "%s: curve columns of /curves/%s differ in length (%zu and %zu)", file_name,
                          table->group, rows, column_rows);
    rows = column_rows;
  }
  table->rows = table->capacity = rows;
  for (int c = 0; c < table->column_count; c++) {
    char path[96];
    snprintf(path, sizeof path, "curves/%s/%s", table->group, table->names[c]);
    table->columns[c] = mallocCheck(rows * sizeof(double));
    if (rows > 0 && read_float_dataset(file, path, 1, &rows, H5T_NATIVE_DOUBLE, table->columns[c], file_name, err))
      return -1;
  }
  return 0;
}

/* The keys a resume may change without a note: where and how far this run goes, not what it trains. */
static bool resume_may_change(const char *key) {
  return !strncmp(key, "run.", 4) || !strncmp(key, "device.", 7) || !strcmp(key, "train.epochs") ||
         !strcmp(key, "train.max_steps");
}

/* One note naming every other key whose value differs between the checkpoint's resolved config
 * and this run's (both from gsvae_config_to_yaml: the same keys, in the same order). */
static void note_changed_keys(const char *file_name, const gsvae_config *stored, const gsvae_config *config) {
  char *then = gsvae_config_to_yaml(stored), *now = gsvae_config_to_yaml(config), *save_then, *save_now;
  char section[64] = "", changes[2048] = "";
  bool run_changed = false;
  for (char *a = strtok_r(then, "\n", &save_then), *b = strtok_r(now, "\n", &save_now); a && b;
       a = strtok_r(NULL, "\n", &save_then), b = strtok_r(NULL, "\n", &save_now)) {
    if (a[0] != ' ') {
      snprintf(section, sizeof section, "%.*s", (int)strcspn(a, ":"), a);
      continue;
    }
    if (!strcmp(a, b)) continue;
    char key[128];
    size_t leaf = strcspn(a + 2, ":");
    snprintf(key, sizeof key, "%s.%.*s", section, (int)leaf, a + 2);
    if (resume_may_change(key)) continue;
    run_changed |= !strcmp(key, "train.seed") || !strcmp(key, "train.batch");
    size_t used = strlen(changes);
    snprintf(changes + used, sizeof changes - used, "%s%s %s -> %s", used ? ", " : "", key, a + 2 + leaf + 2,
             strchr(b, ':') + 2);
  }
  if (changes[0])
    fprintf(stderr, "gsvae: note: %s: keys changed since it was written (a resume goes on with this run's): %s%s\n",
            file_name, changes,
            run_changed ? " (train.seed or train.batch: the resumed run is not the run the checkpoint was part of)" : "");
  free(then);
  free(now);
}

/* A model check's failure: gsvae_errorf's -1 (the message is set) traded for GSVAE_CKPT_OTHER_MODEL. */
static int other_model(int errorf_status) {
  (void)errorf_status;
  return GSVAE_CKPT_OTHER_MODEL;
}

/* The model keys decide the shapes; a checkpoint of another model is never resumed. */
static int check_config(const char *yaml, const gsvae_config *config, const char *file_name, char *err) {
  gsvae_config stored;
  char parse_err[GSVAE_ERR_LEN];
  gsvae_config_defaults(&stored);
  if (gsvae_config_load_yaml_text(&stored, yaml, strlen(yaml), file_name, parse_err))
    return gsvae_errorf(err, "%s: the stored config does not parse: %s", file_name, parse_err);
  if (stored.model_latents != config->model_latents)
    return other_model(gsvae_errorf(err, "%s: model.latents is %d in the checkpoint, %d in this run", file_name,
                        stored.model_latents, config->model_latents));
  if (stored.model_categories != config->model_categories)
    return other_model(gsvae_errorf(err, "%s: model.categories is %d in the checkpoint, %d in this run", file_name,
                        stored.model_categories, config->model_categories));
  bool hidden_differs = stored.model_hidden_count != config->model_hidden_count;
  for (int i = 0; !hidden_differs && i < config->model_hidden_count; i++)
    hidden_differs = stored.model_hidden[i] != config->model_hidden[i];
  if (hidden_differs) return other_model(gsvae_errorf(err, "%s: model.hidden differs between the checkpoint and this run", file_name));
  if (stored.model_logits_relu != config->model_logits_relu)
    return other_model(gsvae_errorf(err, "%s: model.logits_relu is %s in the checkpoint, %s in this run", file_name,
                        stored.model_logits_relu ? "true" : "false", config->model_logits_relu ? "true" : "false"));
  /* the scalars beside the layers (layout.h) follow these keys */
  bool stored_baseline = stored.train_estimator == GSVAE_ESTIMATOR_SF && stored.train_sf_baseline == GSVAE_SF_BASELINE_EMA;
  bool baseline = config->train_estimator == GSVAE_ESTIMATOR_SF && config->train_sf_baseline == GSVAE_SF_BASELINE_EMA;
  if (stored.tau_learn != config->tau_learn)
    return other_model(gsvae_errorf(err, "%s: tau.learn is %s in the checkpoint, %s in this run", file_name,
                        stored.tau_learn ? "true" : "false", config->tau_learn ? "true" : "false"));
  if (stored_baseline != baseline)
    return other_model(gsvae_errorf(err, "%s: the checkpoint %s an sf moving-average baseline, this run %s", file_name,
                        stored_baseline ? "holds" : "has no", baseline ? "needs one" : "has none"));
  /* Adam and RAdam keep the same moments, but they mean another trajectory: not the same run. A
   * checkpoint from before train.optimizer existed parses as adam, the only optimizer then. */
  if (stored.train_optimizer != config->train_optimizer)
    return other_model(gsvae_errorf(err, "%s: train.optimizer is %s in the checkpoint, %s in this run", file_name,
                                    gsvae_optimizer_word(stored.train_optimizer),
                                    gsvae_optimizer_word(config->train_optimizer)));
  note_changed_keys(file_name, &stored, config);
  return 0;
}

static int load_file(hid_t file, const char *name, const gsvae_config *config, const gsvae_layout *layout,
                     gsvae_checkpoint *ckpt, char *err) {
  long format = 0;
  if (read_attribute(file, "format", H5T_NATIVE_LONG, H5T_INTEGER, 1, &format, name, err))
    return gsvae_errorf(err, "%s: not a gsvae checkpoint (no integer 'format' attribute)", name);
  if (format != GSVAE_CKPT_FORMAT)
    return gsvae_errorf(err, "%s: checkpoint format %ld, this gsvae reads format %d", name, format, GSVAE_CKPT_FORMAT);
  uint32_t stored_checksum = 0;
  double sums[2][GSVAE_CKPT_SUMS];
  if (read_attribute(file, "step", H5T_NATIVE_LONG, H5T_INTEGER, 1, &ckpt->step, name, err) ||
      read_attribute(file, "epoch", H5T_NATIVE_LONG, H5T_INTEGER, 1, &ckpt->epoch, name, err) ||
      read_attribute(file, "tau", H5T_NATIVE_DOUBLE, H5T_FLOAT, 1, &ckpt->tau, name, err) ||
      read_attribute(file, "seed", H5T_NATIVE_UINT64, H5T_INTEGER, 1, &ckpt->seed, name, err) ||
      read_attribute(file, "interval_sums", H5T_NATIVE_DOUBLE, H5T_FLOAT, GSVAE_CKPT_SUMS, sums[0], name, err) ||
      read_attribute(file, "epoch_sums", H5T_NATIVE_DOUBLE, H5T_FLOAT, GSVAE_CKPT_SUMS, sums[1], name, err) ||
      read_attribute(file, "checksum", H5T_NATIVE_UINT32, H5T_INTEGER, 1, &stored_checksum, name, err))
    return -1;
  sums_from_attribute(&ckpt->interval_sums, sums[0]);
  sums_from_attribute(&ckpt->epoch_sums, sums[1]);
  if (ckpt->step < 0 || ckpt->epoch < 0 || ckpt->epoch > ckpt->step)
    return gsvae_errorf(err, "%s: step %ld / epoch %ld are not a training position", name, ckpt->step, ckpt->epoch);
  char *yaml = read_string_attribute(file, "config", name, err);
  if (!yaml) return -1;
  int status = check_config(yaml, config, name, err);
  free(yaml);
  if (status) return status;
  float **buffers[3] = {&ckpt->params, &ckpt->exp_avg, &ckpt->exp_avg_sq};
  for (int b = 0; b < 3; b++) {
    *buffers[b] = mallocCheck(layout->param_count * sizeof(float));
    if (read_tensors(file, b, layout, *buffers[b], name, err)) return -1;
  }
  if (read_curve_table(file, &ckpt->curves.steps, name, err) || read_curve_table(file, &ckpt->curves.epochs, name, err))
    return -1;
  if (checkpoint_checksum(ckpt, layout->param_count, (const double *)sums) != stored_checksum)
    return gsvae_errorf(err, "%s: checksum mismatch: the parameters, optimizer state or curves are corrupted", name);
  return 0;
}

/* HDF5's own error stack would bury the message about a bad file: silenced while loading. */
static int load_quietly(hid_t file, const char *name, const gsvae_config *config, const gsvae_layout *layout,
                        gsvae_checkpoint *ckpt, char *err) {
  memset(ckpt, 0, sizeof *ckpt);
  gsvae_curves_init(&ckpt->curves);
  int status = file < 0 ? gsvae_errorf(err, "%s: not an HDF5 file, or truncated or corrupted", name)
                        : load_file(file, name, config, layout, ckpt, err);
  if (file >= 0) H5Fclose(file);
  if (status) gsvae_ckpt_free(ckpt);
  return status;
}

int gsvae_ckpt_load(const char *path, const gsvae_config *config, const gsvae_layout *layout,
                    gsvae_checkpoint *ckpt, char *err) {
  H5E_auto2_t handler;
  void *handler_data;
  H5Eget_auto2(H5E_DEFAULT, &handler, &handler_data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t file = access(path, R_OK) == 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
  int status = file < 0 && access(path, R_OK) != 0
                   ? gsvae_errorf(err, "%s: cannot read it: %s", path, strerror(errno))
                   : load_quietly(file, path, config, layout, ckpt, err);
  H5Eset_auto2(H5E_DEFAULT, handler, handler_data);
  return status;
}

int gsvae_ckpt_load_image(const void *image, size_t size, const char *name, const gsvae_config *config,
                          const gsvae_layout *layout, gsvae_checkpoint *ckpt, char *err) {
  H5E_auto2_t handler;
  void *handler_data;
  H5Eget_auto2(H5E_DEFAULT, &handler, &handler_data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t access = H5Pcreate(H5P_FILE_ACCESS), file = -1;
  if (access >= 0 && H5Pset_fapl_core(access, 1 << 16, 0) >= 0 && H5Pset_file_image(access, (void *)image, size) >= 0)
    file = H5Fopen(name, H5F_ACC_RDONLY, access);
  if (access >= 0) H5Pclose(access);
  int status = load_quietly(file, name, config, layout, ckpt, err);
  H5Eset_auto2(H5E_DEFAULT, handler, handler_data);
  return status;
}

void gsvae_ckpt_free(gsvae_checkpoint *ckpt) {
  free(ckpt->params);
  free(ckpt->exp_avg);
  free(ckpt->exp_avg_sq);
  gsvae_curves_free(&ckpt->curves);
  memset(ckpt, 0, sizeof *ckpt);
  gsvae_curves_init(&ckpt->curves);
}

/* ---- the directory ---- */

/* step_<digits>.h5 exactly: a temporary (.step_*.h5.tmp) or anything else never matches. */
static bool parse_checkpoint_name(const char *name, long *step) {
  if (strncmp(name, "step_", 5) != 0) return false;
  const char *digits = name + 5;
  size_t count = strspn(digits, "0123456789");
  if (count < 8 || count > 18 || strcmp(digits + count, ".h5") != 0) return false;
  *step = strtol(digits, NULL, 10);
  return true;
}

static int newest_first(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x < y) - (x > y);
}

int gsvae_ckpt_list(const char *run_dir, long **steps, char *err) {
  char dir_path[GSVAE_PATH_LEN + 32];
  snprintf(dir_path, sizeof dir_path, "%s/ckpt", run_dir);
  *steps = NULL;
  DIR *dir = opendir(dir_path);
  if (!dir) return errno == ENOENT ? 0 : gsvae_errorf(err, "cannot list '%s': %s", dir_path, strerror(errno));
  int count = 0, capacity = 0;
  struct dirent *entry;
  while ((entry = readdir(dir))) {
    long step;
    if (!parse_checkpoint_name(entry->d_name, &step)) continue;
    if (count == capacity) {
      capacity = capacity ? 2 * capacity : 16;
      long *grown = realloc(*steps, (size_t)capacity * sizeof(long));
      if (!grown) gsvae_abort(GSVAE_EXIT_RUNTIME, "out of memory listing '%s'", dir_path);
      *steps = grown;
    }
    (*steps)[count++] = step;
  }
  closedir(dir);
  qsort(*steps, (size_t)count, sizeof(long), newest_first);
  return count;
}

void gsvae_ckpt_remove_temporaries(const char *run_dir) {
  char dir_path[GSVAE_PATH_LEN + 32];
  snprintf(dir_path, sizeof dir_path, "%s/ckpt", run_dir);
  DIR *dir = opendir(dir_path);
  if (!dir) return;
  struct dirent *entry;
  while ((entry = readdir(dir))) {
    size_t length = strlen(entry->d_name);
    if (entry->d_name[0] != '.' || length < 5 || strcmp(entry->d_name + length - 4, ".tmp") != 0) continue;
    char path[GSVAE_PATH_LEN + 320];
    snprintf(path, sizeof path, "%s/%s", dir_path, entry->d_name);
    unlink(path);
  }
  closedir(dir);
}

void gsvae_ckpt_prune(const char *run_dir, int keep, long keep_every_steps) {
  char err[GSVAE_ERR_LEN];
  long *steps;
  int count = gsvae_ckpt_list(run_dir, &steps, err);
  for (int i = keep; i < count; i++) {
    if (keep_every_steps > 0 && steps[i] % keep_every_steps == 0) continue;
    char path[GSVAE_PATH_LEN + 32];
    gsvae_ckpt_path(path, run_dir, steps[i]);
    if (unlink(path) != 0) fprintf(stderr, "gsvae: warning: cannot remove old checkpoint %s: %s\n", path, strerror(errno));
  }
  free(steps);
}
