/* src/cpu/blas.h on oneDNN (GSVAE_BLAS=onednn): dnnl_sgemm, which picks its kernels on the CPU
 * at run time (ONEDNN_MAX_CPU_ISA caps them), on the OpenMP threads of the calling thread; and
 * the bf16 products, oneDNN's matmul primitive on bf16 operands with a float result (oneDNN 2.6
 * has no bf16 GEMM call, and its f32 matmul ignores the bf16 fpmath mode). Debian's
 * oneDNN 2.6 runs them on GNU OpenMP (libgomp.so.1, which CMake links); this file drives the same
 * threads through libgomp's entry points rather than OpenMP pragmas, so that it needs no OpenMP
 * support of the compiler: clang's -fopenmp would bring LLVM's runtime, a second thread pool. */
#include <fenv.h>
#include <pthread.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cpu/blas.h"
#include "core/check.h"

#if DNNL_CPU_THREADING_RUNTIME != DNNL_RUNTIME_OMP
#error "gsvae sets oneDNN's threads and their floating-point mode through OpenMP: needs oneDNN built with OpenMP"
#endif

/* The OpenMP API (as omp.h declares it) and GCC's code for `#pragma omp parallel num_threads(n)`:
 * fn(data) on n threads of the calling thread's team, this one among them. */
void omp_set_num_threads(int threads);
int omp_get_max_threads(void);
int omp_get_num_procs(void);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
void GOMP_parallel(void (*fn)(void *), void *data, unsigned threads, unsigned flags);

void gsvae_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc) {
  dnnl_status_t status =
      dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success)
    gsvae_abort(GSVAE_EXIT_RUNTIME, "dnnl_sgemm(%c, %c, %d, %d, %d): %s", trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m,
                n, k, dnnl_status2str(status));
}

/* A matmul primitive is made for one shape, layout and thread count (oneDNN fixes its split over
 * threads when it is made), so they are kept, one per such key: the model has a few dozen. oneDNN
 * primitives may run on several threads at once; the memory objects and stream are per call and
 * per thread. */
typedef struct { /* ints alone, so that no padding takes part in the bytewise compare */
  int trans_a, trans_b, accumulate, m, n, k, lda, ldb, ldc, threads;
} matmul_key;

typedef struct {
  matmul_key key;
  dnnl_primitive_t primitive;
  dnnl_memory_desc_t a, b, c;
} matmul_entry;

enum { MATMUL_CACHE = 256 };
static matmul_entry matmul_cache[MATMUL_CACHE];
static int matmul_cached;
static pthread_mutex_t matmul_lock = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t cpu_engine;
static pthread_key_t stream_key;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

#define dnnl_check(call, what)                                                                    \
  do {                                                                                            \
    dnnl_status_t dnnl_status_ = (call);                                                          \
    if (dnnl_status_ != dnnl_success)                                                             \
      gsvae_abort(GSVAE_EXIT_RUNTIME, "oneDNN bf16 product %s: %s", what, dnnl_status2str(dnnl_status_)); \
  } while (0)

static void destroy_stream(void *stream) { dnnl_stream_destroy(stream); }

static void open_engine(void) {
  dnnl_check(dnnl_engine_create(&cpu_engine, dnnl_cpu, 0), "dnnl_engine_create");
  if (pthread_key_create(&stream_key, destroy_stream) != 0) gsvae_abort(GSVAE_EXIT_RUNTIME, "pthread_key_create failed");
}

static dnnl_stream_t thread_stream(void) {
  pthread_once(&engine_once, open_engine);
  dnnl_stream_t stream = pthread_getspecific(stream_key);
  if (!stream) {
    dnnl_check(dnnl_stream_create(&stream, cpu_engine, dnnl_stream_default_flags), "dnnl_stream_create");
    if (pthread_setspecific(stream_key, stream) != 0) gsvae_abort(GSVAE_EXIT_RUNTIME, "pthread_setspecific failed");
  }
  return stream;
}

/* A rows x cols operand stored row-major with leading dimension ld, read transposed when trans. */
static dnnl_memory_desc_t operand_desc(bool trans, int rows, int cols, int ld, dnnl_data_type_t type) {
  dnnl_memory_desc_t desc;
  dnnl_dims_t dims = {rows, cols}, strides = {trans ? 1 : ld, trans ? ld : 1};
  dnnl_check(dnnl_memory_desc_init_by_strides(&desc, 2, dims, type, strides), "memory descriptor");
  return desc;
}

static matmul_entry make_matmul(matmul_key key) {
  matmul_entry entry = {.key = key};
  entry.a = operand_desc(key.trans_a, key.m, key.k, key.lda, dnnl_bf16);
  entry.b = operand_desc(key.trans_b, key.k, key.n, key.ldb, dnnl_bf16);
  entry.c = operand_desc(false, key.m, key.n, key.ldc, dnnl_f32);
  dnnl_matmul_desc_t desc;
  dnnl_check(dnnl_matmul_desc_init(&desc, &entry.a, &entry.b, NULL, &entry.c), "dnnl_matmul_desc_init");
  dnnl_primitive_attr_t attributes;
  dnnl_post_ops_t post_ops;
  dnnl_check(dnnl_primitive_attr_create(&attributes), "attributes");
  dnnl_check(dnnl_post_ops_create(&post_ops), "post-ops");
  /* accumulate: C's old value added to the float product, one rounding as an add afterwards */
  if (key.accumulate) dnnl_check(dnnl_post_ops_append_sum(post_ops, 1.0f), "the sum post-op");
  dnnl_check(dnnl_primitive_attr_set_post_ops(attributes, post_ops), "post-ops");
  dnnl_primitive_desc_t primitive_desc;
  dnnl_check(dnnl_primitive_desc_create(&primitive_desc, &desc, attributes, cpu_engine, NULL), "primitive descriptor");
  dnnl_check(dnnl_primitive_create(&entry.primitive, primitive_desc), "dnnl_primitive_create");
  dnnl_primitive_desc_destroy(primitive_desc);
  dnnl_post_ops_destroy(post_ops);
  dnnl_primitive_attr_destroy(attributes);
  return entry;
}

static const matmul_entry *find_matmul(matmul_key key) {
  pthread_mutex_lock(&matmul_lock);
  int found = 0;
  while (found < matmul_cached && memcmp(&matmul_cache[found].key, &key, sizeof key) != 0) found++;
  if (found == matmul_cached) {
    if (matmul_cached == MATMUL_CACHE)
      gsvae_abort(GSVAE_EXIT_RUNTIME, "oneDNN bf16 products: more than %d shapes", MATMUL_CACHE);
    matmul_cache[found] = make_matmul(key);
    matmul_cached++;
  }
  pthread_mutex_unlock(&matmul_lock);
  return &matmul_cache[found];
}

static dnnl_memory_t wrap(const dnnl_memory_desc_t *desc, const void *data) {
  dnnl_memory_t memory;
  dnnl_check(dnnl_memory_create(&memory, desc, cpu_engine, (void *)data), "dnnl_memory_create");
  return memory;
}

void gsvae_gemm_bf16(bool trans_a, bool trans_b, int m, int n, int k, const uint16_t *a, int lda, const uint16_t *b,
                     int ldb, bool accumulate, float *c, int ldc) {
  if (m == 0 || n == 0) return;
  dnnl_stream_t stream = thread_stream();
  const matmul_entry *entry =
      find_matmul((matmul_key){trans_a, trans_b, accumulate, m, n, k, lda, ldb, ldc, omp_get_max_threads()});
  dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, wrap(&entry->a, a)},
                             {DNNL_ARG_WEIGHTS, wrap(&entry->b, b)},
                             {DNNL_ARG_DST, wrap(&entry->c, c)}};
  dnnl_check(dnnl_primitive_execute(entry->primitive, stream, 3, args), "dnnl_primitive_execute");
  dnnl_check(dnnl_stream_wait(stream), "dnnl_stream_wait");
  for (int i = 0; i < 3; i++) dnnl_memory_destroy(args[i].memory);
}

/* oneDNN runs bf16 matmul on the CPU's own bf16 instructions from AVX512_CORE_BF16 (AVX512_BF16)
 * and AVX512_CORE_AMX up; below, on AVX-512 alone, it emulates them several times slower. The
 * ISA it reports is the CPU's capped by ONEDNN_MAX_CPU_ISA, so the cap takes bf16 away too. */
const char *gsvae_blas_bf16_missing(void) {
  dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  if ((isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16) return NULL; /* AMX's ISA includes it */
  static char missing[256];
  snprintf(missing, sizeof missing,
           "this CPU (as oneDNN sees it: %s) has neither AVX512_BF16 nor AMX bf16 instructions", dnnl_cpu_isa2str(isa));
  return missing;
}

/* dnnl_sgemm runs omp_get_max_threads() threads: the calling thread's OpenMP setting. */
void gsvae_blas_set_threads(int threads) { omp_set_num_threads(threads); }

int gsvae_blas_get_threads(void) { return omp_get_max_threads(); }

bool gsvae_blas_threads_from_env(void) { return getenv("OMP_NUM_THREADS") != NULL; }

typedef struct {
  void (*body)(void *context, int worker);
  void *context;
  int workers;
} team_task;

/* A team may come out smaller than asked (a region nested in another runs on one thread): its
 * threads then take the workers in turn, so that every one runs. */
static void team_member(void *data) {
  team_task *task = data;
  for (int w = omp_get_thread_num(); w < task->workers; w += omp_get_num_threads()) task->body(task->context, w);
}

int gsvae_blas_team_size(void) { return omp_get_max_threads(); }

void gsvae_blas_team_run(int workers, void (*body)(void *context, int worker), void *context) {
  if (workers <= 1) {
    body(context, 0);
    return;
  }
  team_task task = {body, context, workers};
  GOMP_parallel(team_member, &task, (unsigned)workers, 0);
}

typedef struct {
  fenv_t mode;
  atomic_int failed;
} float_mode_task;

static void take_float_mode(void *data) {
  float_mode_task *task = data;
  if (fesetenv(&task->mode) != 0) atomic_fetch_add(&task->failed, 1);
}

/* GNU OpenMP keeps the threads of a parallel region for the next ones, so a product runs on threads
 * started with whatever mode their creator had then. Each thread of the pool sets the mode itself;
 * the region is as large as the pool can be (the thread count, or one per core if more), and
 * threads started later inherit it from this one. */
void gsvae_blas_workers_take_float_mode(void) {
  float_mode_task task = {.failed = 0};
  if (fegetenv(&task.mode) != 0) gsvae_abort(GSVAE_EXIT_RUNTIME, "fegetenv failed");
  int threads = omp_get_max_threads(), cores = omp_get_num_procs();
  GOMP_parallel(take_float_mode, &task, (unsigned)(threads > cores ? threads : cores), 0);
  if (task.failed) gsvae_abort(GSVAE_EXIT_RUNTIME, "fesetenv failed in %d OpenMP thread(s)", atomic_load(&task.failed));
}

const char *gsvae_blas_name(void) {
  static char name[128];
  const dnnl_version_t *version = dnnl_version();
  snprintf(name, sizeof name, "oneDNN %d.%d.%d (commit %s, OpenMP threads)", version->major, version->minor,
           version->patch, version->hash);
  return name;
}

const char *gsvae_blas_kernels(void) { return dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()); }

/* oneDNN dispatches on the CPU at each call: there is no load-time choice to correct. */
void gsvae_blas_pick_kernels(char **argv) { (void)argv; }
