/* 8 chunk gradients of the seed model (1,195,014 floats): fold in order (float adds) vs int64 fixed point
   (max-abs pass, scale, convert+accumulate, convert back). One thread. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
enum { N = 1195014, C = 8, REPS = 20 };
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
int main(void){
  float *g=malloc((size_t)C*N*4),*out=malloc(N*4); int64_t *acc=malloc(N*8);
  for(size_t i=0;i<(size_t)C*N;i++) g[i]=(rand()/(float)RAND_MAX-0.5f)*1e-2f;
  double t0=now();
  for(int r=0;r<REPS;r++){ for(size_t i=0;i<N;i++){float s=g[i]; for(int c=1;c<C;c++) s+=g[(size_t)c*N+i]; out[i]=s;} }
  double fold=(now()-t0)/REPS*1e3;
  t0=now();
  for(int r=0;r<REPS;r++){
    float m=0; for(size_t i=0;i<(size_t)C*N;i++){float a=fabsf(g[i]); m=a>m?a:m;}
    int e; frexpf(m,&e); float scale=ldexpf(1.0f,62-3-e); /* C*max < 2^62 */
    for(size_t i=0;i<N;i++) acc[i]=0;
    for(int c=0;c<C;c++) for(size_t i=0;i<N;i++) acc[i]+=(int64_t)llrintf(g[(size_t)c*N+i]*scale);
    for(size_t i=0;i<N;i++) out[i]=(float)acc[i]/scale;
  }
  double fixed=(now()-t0)/REPS*1e3;
  printf("fold in order: %.2f ms; int64 fixed point: %.2f ms (8 chunks x %d floats, one thread)\n",fold,fixed,N);
  return out[7]>1e9;
}
