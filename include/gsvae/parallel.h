/* Work split over a rank's own threads where the split must not change the bits: each worker
 * computes whole, fixed pieces (a chunk's gradient, a range of a fold) with single-threaded
 * products, so the result is the same for any number of workers. */
#pragma once

/* Runs body(context, w) for w = 0 .. workers-1, w = 0 on the calling thread and each other on a
 * thread of its own started for the call (which inherits the caller's floating-point mode, FTZ and
 * DAZ included, as POSIX threads do); returns when all have. */
void gsvae_parallel_run(int workers, void (*body)(void *context, int worker), void *context);
