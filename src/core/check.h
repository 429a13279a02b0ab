/* Error reporting and exit codes: every MPI, HDF5, CUDA, NCCL and cuBLAS call is checked
 * through a macro here that names the file and line; parsers return messages instead. */
#pragma once
#include <stdarg.h>
#include <stddef.h>

/* Exit codes, documented in README.md. */
enum {
  GSVAE_EXIT_OK = 0,
  GSVAE_EXIT_RUNTIME = 1,     /* an I/O, MPI, HDF5 or device failure */
  GSVAE_EXIT_USAGE = 2,       /* bad command line or config */
  GSVAE_EXIT_DATA = 3,        /* missing or malformed data files */
  GSVAE_EXIT_CHECKPOINT = 4,  /* no valid checkpoint to resume from, or a run dir in the way */
  GSVAE_EXIT_DIVERGED = 5,    /* train.max_bad_steps non-finite steps in a row */
  GSVAE_EXIT_INTERRUPTED = 75 /* SIGTERM/SIGINT/SIGUSR1: checkpoint written, resume later */
};

#define GSVAE_ERR_LEN 1024

/* This process's place in MPI_COMM_WORLD (0 of 1 until MPI is up), and its rank in the
 * communicator training its run: the world, or its group in a sweep. */
extern int gsvae_world_rank, gsvae_world_size, gsvae_group_rank;

/* For errors every rank of a run meets alike (config, data): its group's rank 0 prints, all
 * ranks exit(code) after MPI_Finalize, so nothing hangs and the message is printed once. */
void gsvae_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* For errors one rank may meet alone (a failed call): prints with the rank, then MPI_Abort. */
void gsvae_abort(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* Writes a message into err[GSVAE_ERR_LEN] for a parser to return; always returns -1. */
int gsvae_errorf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void *gsvae_malloc_checked(size_t bytes, const char *file, int line);
void *gsvae_calloc_checked(size_t count, size_t size, const char *file, int line);
#define mallocCheck(bytes) gsvae_malloc_checked((bytes), __FILE__, __LINE__)
#define callocCheck(count, size) gsvae_calloc_checked((count), (size), __FILE__, __LINE__)

void gsvae_mpi_check(int status, const char *call, const char *file, int line);
#define mpiCheck(call) gsvae_mpi_check((call), #call, __FILE__, __LINE__)
/* HDF5 calls return a negative value (herr_t or hid_t) on failure. */
long long gsvae_h5_check(long long status, const char *call, const char *file, int line);
#define h5Check(call) gsvae_h5_check((long long)(call), #call, __FILE__, __LINE__)
