/* run.h5: the config and environment written at creation, curve datasets grown as rows arrive,
 * and the final parameters under their state_dict names. While training the file is in SWMR
 * mode (readers: h5py.File(path, "r", swmr=True)), so a kill -9 leaves every flushed row
 * readable; /params is added after leaving SWMR mode, since SWMR cannot create datasets. */
#include <hdf5.h>
#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cpu/blas.h"
#include "core/check.h"
#include "core/version.h"
#include "core/config.h"
#include "cpu/float_mode.h"
#include "cpu/vector_math.h"
#include "train/runfile.h"

enum { CURVE_CHUNK = 1024 };

struct gsvae_runfile {
  char path[GSVAE_PATH_LEN];
  hid_t file;
  bool swmr;
  hid_t curves[2][GSVAE_STEP_COLUMNS]; /* [0] steps, [1] epochs */
  int column_count[2];
  hsize_t rows_in_file[2];
};

void gsvae_h5_write_attribute(hid_t object, const char *name, hid_t file_type, hid_t memory_type, hsize_t count,
                              const void *value) {
  hid_t space = h5Check(count == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, NULL));
  hid_t attribute = h5Check(H5Acreate2(object, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT));
  h5Check(H5Awrite(attribute, memory_type, value));
  h5Check(H5Aclose(attribute));
  h5Check(H5Sclose(space));
}

/* A variable-length UTF-8 string attribute, which h5py reads back as str. */
static void write_string_attribute(hid_t object, const char *name, const char *value) {
  hid_t type = h5Check(H5Tcopy(H5T_C_S1));
  h5Check(H5Tset_size(type, H5T_VARIABLE));
  h5Check(H5Tset_cset(type, H5T_CSET_UTF8));
  gsvae_h5_write_attribute(object, name, type, type, 0, &value); /* a variable-length string is its pointer */
  h5Check(H5Tclose(type));
}

static void write_environment(hid_t file, int ranks, const char *backend_name) {
  hid_t env = h5Check(H5Gcreate2(file, "env", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  gsvae_h5_write_attribute(env, "ranks", H5T_STD_I32LE, H5T_NATIVE_INT, 0, &ranks);
  write_string_attribute(env, "backend", backend_name);
  char host[256] = "unknown";
  if (gethostname(host, sizeof host) != 0) strcpy(host, "unknown");
  host[sizeof host - 1] = '\0';
  write_string_attribute(env, "hostname", host);
  write_string_attribute(env, "gsvae_version", GSVAE_VERSION);
  char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  mpiCheck(MPI_Get_library_version(mpi_version, &length));
  while (length > 0 && (mpi_version[length - 1] == '\n' || mpi_version[length - 1] == '\0')) length--;
  mpi_version[length] = '\0';
  write_string_attribute(env, "mpi_version", mpi_version);
  unsigned major, minor, release;
  h5Check(H5get_libversion(&major, &minor, &release));
  char hdf5_version[64];
  snprintf(hdf5_version, sizeof hdf5_version, "%u.%u.%u", major, minor, release);
  write_string_attribute(env, "hdf5_version", hdf5_version);
  write_string_attribute(env, "blas", gsvae_blas_name());
  write_string_attribute(env, "blas_kernels", gsvae_blas_kernels());
  write_string_attribute(env, "exp_log", gsvae_vector_math_name());
  write_string_attribute(env, "float_mode", gsvae_float_mode_name());
  char started[32];
  time_t now = time(NULL);
  struct tm utc;
  gmtime_r(&now, &utc);
  strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &utc);
  write_string_attribute(env, "start_time", started);
  h5Check(H5Gclose(env));
}

/* Empty, chunked, unlimited 1-D datasets /curves/<group>/<column>. */
static void create_curve_table(gsvae_runfile *run, int t, hid_t curves_group, const gsvae_curve_table *table) {
  hid_t group = h5Check(H5Gcreate2(curves_group, table->group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  hsize_t empty = 0, unlimited = H5S_UNLIMITED, chunk = CURVE_CHUNK;
  hid_t space = h5Check(H5Screate_simple(1, &empty, &unlimited));
  hid_t create = h5Check(H5Pcreate(H5P_DATASET_CREATE));
  h5Check(H5Pset_chunk(create, 1, &chunk));
  for (int c = 0; c < table->column_count; c++) {
    hid_t type = table->is_integer[c] ? H5T_STD_I64LE : H5T_IEEE_F64LE;
    run->curves[t][c] = h5Check(H5Dcreate2(group, table->names[c], type, space, H5P_DEFAULT, create, H5P_DEFAULT));
  }
  run->column_count[t] = table->column_count;
  run->rows_in_file[t] = 0;
  h5Check(H5Pclose(create));
  h5Check(H5Sclose(space));
  h5Check(H5Gclose(group));
}

gsvae_runfile *gsvae_runfile_create(const char *path, const char *config_yaml, int ranks, const char *backend_name) {
  gsvae_runfile *run = callocCheck(1, sizeof *run);
  snprintf(run->path, sizeof run->path, "%s", path);
  /* v1.10 format: what SWMR needs */
  hid_t access = h5Check(H5Pcreate(H5P_FILE_ACCESS));
  h5Check(H5Pset_libver_bounds(access, H5F_LIBVER_V110, H5F_LIBVER_LATEST));
  run->file = h5Check(H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, access));
  h5Check(H5Pclose(access));
  write_string_attribute(run->file, "format", "gsvae-run-1");
  write_string_attribute(run->file, "config", config_yaml);
  write_environment(run->file, ranks, backend_name);

  gsvae_curves columns; /* only the column names and types; no rows are allocated */
  gsvae_curves_init(&columns);
  hid_t curves_group = h5Check(H5Gcreate2(run->file, "curves", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  create_curve_table(run, 0, curves_group, &columns.steps);
  create_curve_table(run, 1, curves_group, &columns.epochs);
  h5Check(H5Gclose(curves_group));
  gsvae_curves_free(&columns);
  h5Check(H5Fstart_swmr_write(run->file));
  run->swmr = true;
  return run;
}

/* Resizes the columns to table->rows (a resume may have dropped rows) and writes the new ones;
 * HDF5 converts the double columns to int64 where the dataset is integer. */
static void sync_table(gsvae_runfile *run, int t, const gsvae_curve_table *table) {
  hsize_t old_rows = run->rows_in_file[t], new_rows = table->rows;
  if (new_rows == old_rows) return;
  /* Curves only grow: a resume writes a new run.h5 from its checkpoint's curves. */
  if (new_rows < old_rows)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "run.h5: the %s curves have %llu rows, fewer than the file's %llu", table->group,
                (unsigned long long)new_rows, (unsigned long long)old_rows);
  if (table->column_count != run->column_count[t])
    gsvae_abort(GSVAE_EXIT_RUNTIME, "run.h5: the %s curves have %d columns, the file %d", table->group,
                table->column_count, run->column_count[t]);
  for (int c = 0; c < table->column_count; c++) {
    hid_t dataset = run->curves[t][c];
    h5Check(H5Dset_extent(dataset, &new_rows));
    hsize_t start = old_rows, count = new_rows - old_rows;
    hid_t file_space = h5Check(H5Dget_space(dataset));
    h5Check(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, &start, NULL, &count, NULL));
    hid_t memory_space = h5Check(H5Screate_simple(1, &count, NULL));
    h5Check(H5Dwrite(dataset, H5T_NATIVE_DOUBLE, memory_space, file_space, H5P_DEFAULT, table->columns[c] + start));
    h5Check(H5Sclose(memory_space));
    h5Check(H5Sclose(file_space));
  }
  run->rows_in_file[t] = new_rows;
}

void gsvae_runfile_sync_curves(gsvae_runfile *run, const gsvae_curves *curves) {
  sync_table(run, 0, &curves->steps);
  sync_table(run, 1, &curves->epochs);
  h5Check(H5Fflush(run->file, H5F_SCOPE_LOCAL));
}

/* Closes and reopens the file outside SWMR mode, so that datasets can be created. */
static void leave_swmr(gsvae_runfile *run) {
  if (!run->swmr) return;
  const gsvae_curve_table *tables[2];
  gsvae_curves columns;
  gsvae_curves_init(&columns);
  tables[0] = &columns.steps;
  tables[1] = &columns.epochs;
  for (int t = 0; t < 2; t++)
    for (int c = 0; c < run->column_count[t]; c++) h5Check(H5Dclose(run->curves[t][c]));
  h5Check(H5Fclose(run->file));
  hid_t access = h5Check(H5Pcreate(H5P_FILE_ACCESS));
  h5Check(H5Pset_libver_bounds(access, H5F_LIBVER_V110, H5F_LIBVER_LATEST));
  run->file = h5Check(H5Fopen(run->path, H5F_ACC_RDWR, access));
  h5Check(H5Pclose(access));
  for (int t = 0; t < 2; t++)
    for (int c = 0; c < run->column_count[t]; c++) {
      char name[96];
      snprintf(name, sizeof name, "curves/%s/%s", tables[t]->group, tables[t]->names[c]);
      run->curves[t][c] = h5Check(H5Dopen2(run->file, name, H5P_DEFAULT));
    }
  gsvae_curves_free(&columns);
  run->swmr = false;
}

void gsvae_tensors_h5_write(hid_t location, const char *group_path, const gsvae_layout *layout,
                            const float *buffer) {
  hid_t link_props = h5Check(H5Pcreate(H5P_LINK_CREATE));
  h5Check(H5Pset_create_intermediate_group(link_props, 1));
  hid_t group = h5Check(H5Gcreate2(location, group_path, link_props, H5P_DEFAULT, H5P_DEFAULT));
  for (int t = 0; t < gsvae_layout_tensor_count(layout); t++) {
    char name[32];
    int rank;
    size_t shape[2], offset, length;
    gsvae_layout_tensor(layout, t, name, &rank, shape, &offset, &length);
    hsize_t dims[2] = {shape[0], shape[1]};
    hid_t space = h5Check(H5Screate_simple(rank, dims, NULL));
    hid_t dataset = h5Check(H5Dcreate2(group, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    h5Check(H5Dwrite(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer + offset));
    h5Check(H5Dclose(dataset));
    h5Check(H5Sclose(space));
  }
  h5Check(H5Gclose(group));
  h5Check(H5Pclose(link_props));
}

void gsvae_runfile_write_params(gsvae_runfile *run, const gsvae_layout *layout, const float *params) {
  leave_swmr(run);
  if (h5Check(H5Lexists(run->file, "params", H5P_DEFAULT))) h5Check(H5Ldelete(run->file, "params", H5P_DEFAULT));
  gsvae_tensors_h5_write(run->file, "params", layout, params);
  h5Check(H5Fflush(run->file, H5F_SCOPE_LOCAL));
}

void gsvae_runfile_close(gsvae_runfile *run) {
  for (int t = 0; t < 2; t++)
    for (int c = 0; c < run->column_count[t]; c++) h5Check(H5Dclose(run->curves[t][c]));
  h5Check(H5Fclose(run->file));
  free(run);
}

void gsvae_curves_h5_write(hid_t file, const gsvae_curves *curves) {
  gsvae_runfile run = {.file = file};
  hid_t curves_group = h5Check(H5Gcreate2(file, "curves", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  create_curve_table(&run, 0, curves_group, &curves->steps);
  create_curve_table(&run, 1, curves_group, &curves->epochs);
  h5Check(H5Gclose(curves_group));
  sync_table(&run, 0, &curves->steps);
  sync_table(&run, 1, &curves->epochs);
  for (int t = 0; t < 2; t++)
    for (int c = 0; c < run.column_count[t]; c++) h5Check(H5Dclose(run.curves[t][c]));
}
