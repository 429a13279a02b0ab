/* run.h5: the resolved config (YAML text attribute), the environment, the curves appended as
 * training goes (1-D datasets /curves/steps/<col>, /curves/epochs/<col>), the final /params. */
#pragma once
#include <hdf5.h>
#include "train/curves.h"
#include "model/layout.h"

typedef struct gsvae_runfile gsvae_runfile;

/* Creates (truncating) path with the config and environment, and empty curve datasets. */
gsvae_runfile *gsvae_runfile_create(const char *path, const char *config_yaml, int ranks, const char *backend_name);
/* Appends the rows of `curves` that the file does not have yet, then flushes. */
void gsvae_runfile_sync_curves(gsvae_runfile *file, const gsvae_curves *curves);
/* Writes /params/<name> with the state_dict shapes. */
void gsvae_runfile_write_params(gsvae_runfile *file, const gsvae_layout *layout, const float *params);
void gsvae_runfile_close(gsvae_runfile *file);
/* Writes /curves/steps/<col> and /curves/epochs/<col> of `curves` into an open file (the
 * checkpoint writer shares run.h5's layout this way). */
void gsvae_curves_h5_write(hid_t file, const gsvae_curves *curves);
/* An attribute of `count` values (0: a scalar) stored as file_type: run.h5's and checkpoints'. */
void gsvae_h5_write_attribute(hid_t object, const char *name, hid_t file_type, hid_t memory_type, hsize_t count,
                              const void *value);
/* Creates group_path (and its parents) with group_path/<name> for every tensor of the flat
 * buffer, float32 with the state_dict shapes: run.h5's and checkpoints' /params and moments. */
void gsvae_tensors_h5_write(hid_t location, const char *group_path, const gsvae_layout *layout,
                            const float *buffer);
