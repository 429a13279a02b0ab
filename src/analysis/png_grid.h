/* Image grids as PNG (png_grid.c, libpng). */
#pragma once

/* Writes count images (height x width floats in [0,1] each) as a rows x cols grey PNG grid
 * of (rows*height) x (cols*width) pixels; missing tiles are black. -1 with a message. */
int gsvae_png_write_grid(const char *path, const float *images, int count, int rows, int cols, int height, int width,
                         char *err);
/* "8x8" -> rows 8, cols 8; -1 with a message. */
int gsvae_parse_grid(const char *text, int *rows, int *cols, char *err);
