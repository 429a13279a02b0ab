/* The inputs of gsvae's test loss, for the PyTorch interop check: the test images as floats and
 * each image's evaluation Gumbel noise (seed, EVAL, step 0, index), into an HDF5 file.
 * usage: ckpt_eval_inputs DATA_DIR SEED LATENT_WIDTH OUT.h5 */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/check.h"
#include "core/data.h"
#include "core/noise.h"
#include "cpu/noise_rows.h"

static void write_matrix(hid_t file, const char *name, const float *values, hsize_t rows, hsize_t cols) {
  hsize_t dims[2] = {rows, cols};
  hid_t space = h5Check(H5Screate_simple(2, dims, NULL));
  hid_t dataset = h5Check(H5Dcreate2(file, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  h5Check(H5Dwrite(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values));
  h5Check(H5Dclose(dataset));
  h5Check(H5Sclose(space));
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s DATA_DIR SEED LATENT_WIDTH OUT.h5\n", argv[0]);
    return 2;
  }
  gsvae_dataset train, test;
  char err[GSVAE_ERR_LEN];
  if (gsvae_dataset_load_dir(argv[1], &train, &test, err)) gsvae_fail(GSVAE_EXIT_DATA, "%s", err);
  uint64_t seed = strtoull(argv[2], NULL, 10);
  uint32_t width = (uint32_t)atoi(argv[3]);
  float *x = mallocCheck((size_t)test.count * test.dim * sizeof(float));
  float *gumbel = mallocCheck((size_t)test.count * width * sizeof(float));
  for (int i = 0; i < test.count; i++) {
    gsvae_dataset_row(&test, i, GSVAE_BINARIZE_NONE, seed, 0, x + (size_t)i * test.dim);
    gsvae_fill_gumbel(gumbel + (size_t)i * width, width, seed, GSVAE_NOISE_EVAL, 0, (uint64_t)i);
  }
  hid_t file = h5Check(H5Fcreate(argv[4], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  write_matrix(file, "x", x, (hsize_t)test.count, (hsize_t)test.dim);
  write_matrix(file, "gumbel", gumbel, (hsize_t)test.count, width);
  h5Check(H5Fclose(file));
  free(x);
  free(gumbel);
  gsvae_dataset_free(&train);
  gsvae_dataset_free(&test);
  return 0;
}
