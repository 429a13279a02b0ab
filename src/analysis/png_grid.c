/* Image grids as 8-bit grey PNG files through libpng: sample grids and reconstructions. */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/png_grid.h"
#include "core/check.h"

int gsvae_parse_grid(const char *text, int *rows, int *cols, char *err) {
  char tail;
  if (sscanf(text, "%dx%d%c", rows, cols, &tail) != 2 || *rows < 1 || *cols < 1 || *rows > 256 || *cols > 256)
    return gsvae_errorf(err, "--grid '%s': expected ROWSxCOLS with 1..256 each, e.g. 8x8", text);
  return 0;
}

static unsigned char to_byte(float value) {
  float clamped = value < 0.0f ? 0.0f : value > 1.0f ? 1.0f : value;
  return (unsigned char)(clamped * 255.0f + 0.5f);
}

int gsvae_png_write_grid(const char *path, const float *images, int count, int rows, int cols, int height, int width,
                         char *err) {
  size_t image_width = (size_t)cols * width, image_height = (size_t)rows * height;
  unsigned char *pixels = callocCheck(image_width * image_height, 1);
  for (int i = 0; i < count && i < rows * cols; i++) {
    size_t top = (size_t)(i / cols) * height, left = (size_t)(i % cols) * width;
    for (int y = 0; y < height; y++)
      for (int x = 0; x < width; x++)
        pixels[(top + y) * image_width + left + x] = to_byte(images[(size_t)i * height * width + y * width + x]);
  }
  FILE *out = fopen(path, "wb");
  if (!out) {
    free(pixels);
    return gsvae_errorf(err, "%s: cannot write: %s", path, strerror(errno));
  }
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  png_bytep *row_pointers = mallocCheck(image_height * sizeof *row_pointers);
  int status = 0;
  if (!png || !info || setjmp(png_jmpbuf(png))) {
    status = gsvae_errorf(err, "%s: libpng failed to write the image", path);
  } else {
    png_init_io(png, out);
    png_set_IHDR(png, info, (png_uint_32)image_width, (png_uint_32)image_height, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    for (size_t y = 0; y < image_height; y++) row_pointers[y] = pixels + y * image_width;
    png_write_info(png, info);
    png_write_image(png, row_pointers);
    png_write_end(png, NULL);
  }
  png_destroy_write_struct(&png, &info);
  free(row_pointers);
  free(pixels);
  if (fclose(out) && !status) status = gsvae_errorf(err, "%s: cannot write: %s", path, strerror(errno));
  return status;
}
