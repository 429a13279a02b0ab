/* Picks OpenBLAS's kernels when it could not: Debian's OpenBLAS 0.3.21 falls back to its SSE3
 * "Prescott" kernels on CPUs newer than it knows (Sapphire Rapids among them), about 6x slower
 * at this model's products. OpenBLAS chooses when it is loaded, so the choice is made by
 * re-executing once with OPENBLAS_CORETYPE set from the CPU's features. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gsvae/cli.h"

void gsvae_blas_pick_kernels(char **argv) {
  if (getenv("OPENBLAS_CORETYPE") || strcmp(openblas_get_corename(), "Prescott") != 0) return;
  __builtin_cpu_init();
  const char *core = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                     : __builtin_cpu_supports("avx2") ? "Haswell"
                                                       : NULL;
  if (!core) return;
  /* The resolved path, not /proc/self/exe, so that the process keeps its name (ps, pkill). */
  char self[4096];
  ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  if (length <= 0) return;
  self[length] = '\0';
  setenv("OPENBLAS_CORETYPE", core, 1);
  execv(self, argv); /* returns only on failure: then the slow kernels still work */
}
