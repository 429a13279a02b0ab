/* Error reporting: gsvae_fail for errors all ranks meet alike, gsvae_abort for one rank's
 * failed call, and the check helpers behind the mpiCheck/h5Check/mallocCheck macros. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"

int gsvae_world_rank = 0, gsvae_world_size = 1, gsvae_group_rank = 0;

/* In the sanitized build LeakSanitizer checks every process for leaks as it exits. One that ends
 * on an error here frees nothing by design (the process is over; the system takes it all back),
 * so its check is skipped through LeakSanitizer's hook; a process that exits normally is checked. */
#if defined(__SANITIZE_ADDRESS__)
#define GSVAE_LEAK_CHECKED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GSVAE_LEAK_CHECKED 1
#endif
#endif
#ifdef GSVAE_LEAK_CHECKED
static volatile int ending_on_error = 0;
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void) { return ending_on_error; }
#define END_ON_ERROR(code) \
  do {                           \
    ending_on_error = 1;         \
    exit(code);                  \
  } while (0)
#else
#define END_ON_ERROR(code) exit(code)
#endif

static int mpi_is_running(void) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

void gsvae_fail(int code, const char *fmt, ...) {
  if (gsvae_group_rank == 0) {
    va_list args;
    va_start(args, fmt);
    fputs("gsvae: error: ", stderr);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
    fflush(stderr);
  }
  if (mpi_is_running()) MPI_Finalize();
  END_ON_ERROR(code);
}

void gsvae_abort(int code, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  if (gsvae_world_size > 1) fprintf(stderr, "gsvae: error on rank %d of %d: ", gsvae_world_rank, gsvae_world_size);
  else fputs("gsvae: error: ", stderr);
  vfprintf(stderr, fmt, args);
  fputc('\n', stderr);
  va_end(args);
  fflush(stderr);
  if (mpi_is_running() && gsvae_world_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
  if (mpi_is_running()) MPI_Finalize();
  END_ON_ERROR(code);
}

int gsvae_errorf(char *err, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vsnprintf(err, GSVAE_ERR_LEN, fmt, args);
  va_end(args);
  return -1;
}

void *gsvae_malloc_checked(size_t bytes, const char *file, int line) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) gsvae_abort(GSVAE_EXIT_RUNTIME, "%s:%d: out of memory allocating %zu bytes", file, line, bytes);
  return p;
}

void *gsvae_calloc_checked(size_t count, size_t size, const char *file, int line) {
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p) gsvae_abort(GSVAE_EXIT_RUNTIME, "%s:%d: out of memory allocating %zu x %zu bytes", file, line, count, size);
  return p;
}

void gsvae_mpi_check(int status, const char *call, const char *file, int line) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(status, text, &length) != MPI_SUCCESS) snprintf(text, sizeof text, "MPI error %d", status);
  gsvae_abort(GSVAE_EXIT_RUNTIME, "%s:%d: %s failed: %s", file, line, call, text);
}

long long gsvae_h5_check(long long status, const char *call, const char *file, int line) {
  if (status < 0) gsvae_abort(GSVAE_EXIT_RUNTIME, "%s:%d: HDF5 call %s failed (see the HDF5 error stack above)",
                              file, line, call);
  return status;
}
