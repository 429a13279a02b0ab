/* glibc's libmvec has SIMD log/exp; GCC calls them from `omp simd` loops when the scalar
 * functions are declared `declare simd`, which math.h does only under -ffast-math. Declaring them
 * here gets the vector versions (within a few ulp, like the GPU's) without fast-math's other
 * licences. CMake defines GSVAE_LIBMVEC (with -fopenmp-simd, -lmvec) for GCC on x86-64. Include
 * it only where every vectorised loop runs over one sample's row (src/cpu/libmvec_rows.c). */
#pragma once
#include <math.h>

#if defined(GSVAE_LIBMVEC) && !defined(__CUDACC__)
#pragma omp declare simd notinbranch
float logf(float);
#pragma omp declare simd notinbranch
float expf(float);
#pragma omp declare simd notinbranch
double log(double);
#pragma omp declare simd notinbranch
double exp(double);
#define GSVAE_PRAGMA(x) _Pragma(#x)
#define GSVAE_SIMD GSVAE_PRAGMA(omp simd)
#define GSVAE_SIMD_SUM(var) GSVAE_PRAGMA(omp simd reduction(+ : var))
#else
#define GSVAE_SIMD
#define GSVAE_SIMD_SUM(var)
#endif
