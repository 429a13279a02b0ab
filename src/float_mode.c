/* Subnormal floats flushed to zero in every thread that does model math. Products of near-zero
 * activations and gradients fall into the subnormal range as training goes on, where x86 cores
 * take a slow microcode path: epochs took 2-3x longer by the third. MXCSR is per thread, and a
 * new thread inherits its creator's; OpenBLAS starts its workers from its load-time constructor,
 * before main, so the mode reaches them only if the pool is restarted after it is set. */
#include <stdint.h>
#include "gsvae/float_mode.h"
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

/* OpenBLAS's own pool control (exported by libopenblas, not declared in cblas.h): the first joins
 * the workers, the second starts them again from the calling thread. */
int blas_thread_shutdown_(void);
int blas_thread_init(void);

#ifdef HAVE_MXCSR
enum { MXCSR_DAZ = 1 << 6, MXCSR_FTZ = 1 << 15 };
#endif

void gsvae_float_mode_set(bool flush) {
#ifdef HAVE_MXCSR
  uint32_t mxcsr = _mm_getcsr();
  _mm_setcsr(flush ? (mxcsr | MXCSR_DAZ | MXCSR_FTZ) : (mxcsr & ~(uint32_t)(MXCSR_DAZ | MXCSR_FTZ)));
#endif
  blas_thread_shutdown_();
  blas_thread_init();
}

const char *gsvae_float_mode_name(void) {
#ifdef HAVE_MXCSR
  uint32_t mxcsr = _mm_getcsr();
  if ((mxcsr & (MXCSR_DAZ | MXCSR_FTZ)) == (MXCSR_DAZ | MXCSR_FTZ)) return "ftz+daz";
  if (mxcsr & (MXCSR_DAZ | MXCSR_FTZ)) return mxcsr & MXCSR_FTZ ? "ftz" : "daz";
#endif
  return "ieee";
}
