/* The floating-point mode of the threads that do model math: subnormals flushed to zero (FTZ and
 * DAZ) or IEEE, set on the calling thread and on the BLAS library's worker threads alike. */
#pragma once
#include <stdbool.h>

/* Sets flush-to-zero and denormals-are-zero (flush) or clears them (IEEE subnormals) on this
 * thread, then on the BLAS library's worker threads (gsvae_blas_workers_take_float_mode), which
 * may have started before. Call from the thread that runs the model, before the first product,
 * before setting the BLAS thread count, and while no product is running. */
void gsvae_float_mode_set(bool flush);
/* "ftz+daz" or "ieee": the mode of the calling thread, as run.h5's env records it. */
const char *gsvae_float_mode_name(void);
