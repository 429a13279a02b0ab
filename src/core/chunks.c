/* The ordered fold (chunks.h). */
#include <string.h>
#include "core/chunks.h"

/* In blocks that stay in L1; each block is read before it is written, so out may be a source. */
void gsvae_fold_in_order(float *out, const float *const *sources, int count, size_t offset, size_t length) {
  enum { BLOCK = 1024 };
  float sum[BLOCK];
  for (size_t start = 0; start < length; start += BLOCK) {
    size_t n = length - start < BLOCK ? length - start : BLOCK;
    memcpy(sum, sources[0] + offset + start, n * sizeof(float));
    for (int s = 1; s < count; s++) {
      const float *source = sources[s] + offset + start;
      for (size_t i = 0; i < n; i++) sum[i] += source[i];
    }
    memcpy(out + start, sum, n * sizeof(float));
  }
}
