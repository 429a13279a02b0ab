/* A rank's threads: work split over them where the split must not change the bits (each worker
 * computes whole, fixed pieces, a chunk's gradient or a range of a fold, with single-threaded
 * products, so the result is the same for any number of workers), and how many BLAS threads a
 * rank takes on its node. */
#pragma once
#include <stddef.h>

/* Runs body(context, w) for w = 0 .. workers-1, w = 0 on the calling thread and each other on a
 * thread of its own started for the call (which inherits the caller's floating-point mode, FTZ and
 * DAZ included, as POSIX threads do); returns when all have. */
void gsvae_parallel_run(int workers, void (*body)(void *context, int worker), void *context);

/* Splits [0, count) into contiguous ranges, one per thread the BLAS library lends the calling
 * thread (gsvae_blas_team_size) but none shorter than min_per_worker elements, and runs body(context, begin, end) on each, on the
 * library's team (gsvae_blas_team_run). For element-wise work that writes each element from one
 * range alone, so that the split never changes the bits; sums over ranges stay with the caller. */
void gsvae_parallel_ranges(size_t count, size_t min_per_worker,
                           void (*body)(void *context, size_t begin, size_t end), void *context);

/* BLAS threads for a rank (unless OPENBLAS_NUM_THREADS or OMP_NUM_THREADS says): one per core of
 * its binding, or its share of the node's cores among `local_ranks` ranks when unbound (the world's
 * ranks on the node, comm/node_placement.h); no MPI call. For train and the commands that compute
 * under mpirun beside it. */
void gsvae_share_cores_among_local_ranks(int local_ranks);
