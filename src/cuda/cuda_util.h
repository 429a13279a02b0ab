/* Checks for every CUDA runtime, cuBLAS and NCCL call (naming the file, line and the library's
 * error string), and the one way the host waits for a stream: polling, so that a wait guard
 * (the NCCL communicator's error and timeout check; not the step watchdog of src/train) can end
 * a stuck job instead of hanging. */
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <nccl.h>
#include "core/check.h"

#ifdef __cplusplus
extern "C" {
#endif

void gsvae_cuda_check(cudaError_t status, const char *call, const char *file, int line);
void gsvae_cublas_check(cublasStatus_t status, const char *call, const char *file, int line);
void gsvae_nccl_check(ncclResult_t status, const char *call, const char *file, int line);
#define cudaCheck(call) gsvae_cuda_check((call), #call, __FILE__, __LINE__)
#define cublasCheck(call) gsvae_cublas_check((call), #call, __FILE__, __LINE__)
#define ncclCheck(call) gsvae_nccl_check((call), #call, __FILE__, __LINE__)

/* A check the host runs while it waits for a stream, `waited_s` seconds so far: returns 0 while
 * all is well, else writes why into message (GSVAE_ERR_LEN) and returns -1 (a communicator's
 * asynchronous error or its timeout, after aborting it). */
typedef int (*gsvae_cuda_wait_poll)(void *context, double waited_s, char *message);
void gsvae_cuda_set_wait_guard(gsvae_cuda_wait_poll poll, void *context);
void gsvae_cuda_clear_wait_guard(void *context);
/* Seconds on a monotonic clock. */
double gsvae_seconds_now(void);
/* Waits until the stream's work is done, running the wait guard meanwhile; aborts naming `what`
 * when the wait guard reports an error. */
void gsvae_cuda_stream_wait(cudaStream_t stream, const char *what);

#ifdef __cplusplus
}
#endif
