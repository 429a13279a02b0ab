/* Adam's element loop alone (cpu_optimizer_update, src/cpu/model_math.c) on one thread, with FTZ
 * and DAZ as the trainer runs it: nanoseconds a parameter, best of REPS passes, for each count
 * given. Small counts keep its four arrays in the core's cache, the seed model's 1221180 parameters
 * do not: the ratio says whether the loop waits on memory or on its divisions and square root.
 *   build/bench/bench_adam REPS COUNT...      e.g. build/bench/bench_adam 50 65536 1221180 4000000 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "cpu/float_mode.h"
#include "cpu/model_math.h"
#include "model/optimizer_step.h"

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 0;
  if (argc < 3 || reps < 1) {
    fprintf(stderr, "usage: bench_adam REPS COUNT...  (REPS and each COUNT positive)\n");
    return 2;
  }
  gsvae_float_mode_set(true);
  /* the seed config's Adam at step 10: the scalars as the trainer forms them */
  gsvae_optimizer_step step = {.rule = GSVAE_UPDATE_ADAM, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
  step.bias1 = 1 - 0.34867844; /* 1 - 0.9^10 */
  step.bias2_sqrt = 0.09955044; /* sqrt(1 - 0.999^10) */
  step.step_size = step.lr / step.bias1;
  for (int a = 2; a < argc; a++) {
    long count = atol(argv[a]);
    if (count < 1) {
      fprintf(stderr, "bench_adam: COUNT %s is not a positive number\n", argv[a]);
      return 2;
    }
    float *params = malloc(count * sizeof(float)), *exp_avg = calloc(count, sizeof(float)),
          *exp_avg_sq = calloc(count, sizeof(float)), *grads = malloc(count * sizeof(float));
    if (!params || !exp_avg || !exp_avg_sq || !grads) {
      fprintf(stderr, "bench_adam: out of memory for %ld parameters\n", count);
      return 1;
    }
    for (long i = 0; i < count; i++) {
      params[i] = 0.01f * (float)(i % 97);
      grads[i] = 0.5f * (float)(i % 31 - 15); /* a gradient sum over a batch of 100 */
    }
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
      double start = seconds();
      cpu_optimizer_update(params, exp_avg, exp_avg_sq, grads, (size_t)count, &step, 100.0);
      double elapsed = seconds() - start;
      if (elapsed < best) best = elapsed;
    }
    printf("%ld parameters (%.1f MB of arrays): %.3f ms a pass, %.3f ns a parameter\n", count,
           4.0 * count * sizeof(float) / 1e6, best * 1e3, best * 1e9 / count);
    free(params), free(exp_avg), free(exp_avg_sq), free(grads);
  }
  return 0;
}
