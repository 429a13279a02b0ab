/* The model's transcendental loops (src/cpu/exp_log_rows.c) against another version of that file,
 * on one thread: BCE over a batch of 100 rows of 784 pixels with its gradient (the step's relaxed
 * pass) and without (the unrelaxed pass), and the Gumbel transform of 100 rows of 300 draws (one
 * of the step's two noise rows), each timed over 100 batches; FTZ+DAZ as the trainer runs. The
 * other version's symbols are renamed other_* by bench_exp_log.sh. Repetitions interleave the
 * two versions; medians in microseconds a batch.  usage: bench_exp_log REPS */
#include <pmmintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <xmmintrin.h>

float cpu_bce_row(const float *a, const float *x, int dim, float *grad);
void gsvae_gumbel_from_uniform(float *values, uint32_t count);
float other_bce_row(const float *a, const float *x, int dim, float *grad);
void other_gumbel_from_uniform(float *values, uint32_t count);

enum { ROWS = 100, PIXELS = 784, DRAWS = 300, BATCHES = 100, MAX_REPS = 101 };
static float logits[ROWS * PIXELS], images[ROWS * PIXELS], grad[ROWS * PIXELS], noise[ROWS * DRAWS];
static volatile float sink;

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Microseconds a batch of BCE rows, with the gradient or not. */
static double time_bce(float (*bce_row)(const float *, const float *, int, float *), int with_grad) {
  double start = seconds();
  float sum = 0;
  for (int batch = 0; batch < BATCHES; batch++)
    for (int r = 0; r < ROWS; r++)
      sum += bce_row(logits + r * PIXELS, images + r * PIXELS, PIXELS, with_grad ? grad + r * PIXELS : NULL);
  sink = sum;
  return (seconds() - start) / BATCHES * 1e6;
}

/* Microseconds a batch of Gumbel rows (the uniforms refilled outside the timing). */
static double time_gumbel(void (*transform)(float *, uint32_t)) {
  double total = 0;
  for (int batch = 0; batch < BATCHES; batch++) {
    for (int i = 0; i < ROWS * DRAWS; i++) noise[i] = ((float)(i % 9973) + 0.5f) / 9973.5f;
    double start = seconds();
    for (int r = 0; r < ROWS; r++) transform(noise + r * DRAWS, DRAWS);
    total += seconds() - start;
  }
  sink = noise[0];
  return total / BATCHES * 1e6;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *values, int count) {
  qsort(values, (size_t)count, sizeof *values, by_value);
  return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 0;
  if (reps < 1 || reps > MAX_REPS) {
    fprintf(stderr, "usage: bench_exp_log REPS (1-%d)\n", MAX_REPS);
    return 2;
  }
  _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
  _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
  srand(1); /* decoder logits over the range a trained model's take, grey-level targets */
  for (int i = 0; i < ROWS * PIXELS; i++) {
    logits[i] = ((float)rand() / (float)RAND_MAX - 0.5f) * 20;
    images[i] = (float)rand() / (float)RAND_MAX;
  }
  static double times[6][MAX_REPS];
  for (int rep = 0; rep < reps; rep++) {
    times[0][rep] = time_bce(other_bce_row, 1);
    times[1][rep] = time_bce(cpu_bce_row, 1);
    times[2][rep] = time_bce(other_bce_row, 0);
    times[3][rep] = time_bce(cpu_bce_row, 0);
    times[4][rep] = time_gumbel(other_gumbel_from_uniform);
    times[5][rep] = time_gumbel(gsvae_gumbel_from_uniform);
  }
  const char *what[3] = {"BCE and its gradient, 100 x 784", "BCE alone, 100 x 784", "Gumbel transform, 100 x 300"};
  printf("| loop, a batch | other version us | this version us | this / other |\n|---|---:|---:|---:|\n");
  for (int k = 0; k < 3; k++) {
    double other = median(times[2 * k], reps), this = median(times[2 * k + 1], reps);
    printf("| %s | %.0f | %.0f | %.2f |\n", what[k], other, this, this / other);
  }
  return 0;
}
