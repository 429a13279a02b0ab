/* GSVAE_HD marks an inline function that both the C code and the CUDA kernels compile, so that
 * the two sides compute it alike. */
#pragma once

#ifdef __CUDACC__
#define GSVAE_HD __host__ __device__
#else
#define GSVAE_HD
#endif
