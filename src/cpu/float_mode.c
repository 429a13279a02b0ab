/* Subnormal floats flushed to zero in every thread that does model math. Products of near-zero
 * activations and gradients fall into the subnormal range as training goes on, where x86 cores
 * take a slow microcode path: epochs took 2-3x longer by the third. MXCSR is per thread, and a
 * new thread inherits its creator's; the BLAS library's worker threads may have started before
 * the mode was set, so the library passes it on to them (src/blas_<library>.c). */
#include <stdint.h>
#include "cpu/blas.h"
#include "cpu/float_mode.h"
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

#ifdef HAVE_MXCSR
enum { MXCSR_DAZ = 1 << 6, MXCSR_FTZ = 1 << 15 };
#endif

void gsvae_float_mode_set(bool flush) {
#ifdef HAVE_MXCSR
  uint32_t mxcsr = _mm_getcsr();
  _mm_setcsr(flush ? (mxcsr | MXCSR_DAZ | MXCSR_FTZ) : (mxcsr & ~(uint32_t)(MXCSR_DAZ | MXCSR_FTZ)));
#endif
  gsvae_blas_workers_take_float_mode();
}

const char *gsvae_float_mode_name(void) {
#ifdef HAVE_MXCSR
  uint32_t mxcsr = _mm_getcsr();
  if ((mxcsr & (MXCSR_DAZ | MXCSR_FTZ)) == (MXCSR_DAZ | MXCSR_FTZ)) return "ftz+daz";
  if (mxcsr & (MXCSR_DAZ | MXCSR_FTZ)) return mxcsr & MXCSR_FTZ ? "ftz" : "daz";
#endif
  return "ieee";
}
