/* Where a rank trains, as pure rules over what the node offers (no CUDA, no MPI: unit-tested on
 * any machine, and the same rules the launch scripts' dry runs print through `gsvae placement`):
 * CPU or GPU from device.backend and the GPUs visible; which GPU from the node-local rank; and
 * whether ranks may share one. */
#pragma once
#include <stdbool.h>
#include "core/config.h"

/* A GPU's identity across processes: its host and PCI bus id ("node17/0000:3b:00.0"); "" for a
 * CPU rank. */
enum { GSVAE_GPU_ID_LEN = 96 };

/* 1: train on a GPU; 0: on the CPU, with the reason in `why` when device.backend=auto chose it
 * (e.g. no GPU visible), "" otherwise; -1: a usage error (device.backend=cuda and no GPU or no
 * CUDA in this build), the message in `why`. why: GSVAE_ERR_LEN. */
int gsvae_device_use_gpu(gsvae_device_kind backend, bool cuda_built, int visible_gpus, char *why);

/* The GPU (an index among the visible ones) node-local rank `local_rank` of `local_ranks` takes:
 * its own when there are enough (one GPU per local rank), else local_rank modulo the count (ranks
 * then share GPUs, which gsvae_device_check_sharing allows or refuses). A rank that sees one GPU
 * takes it: a launcher that binds each rank to its own GPU (Slurm's --gpus-per-task) shows each
 * rank one, and the bus ids say whether they differ. */
int gsvae_device_gpu_index(int local_rank, int local_ranks, int visible_gpus);

/* NCCL refuses two ranks of one communicator on one GPU. ids[r]: the GPU rank r took ("" on the
 * CPU); model[r]: the communicator it joins (ranks training separate models, such as sweep groups,
 * may share a GPU). Returns 0, or -1 with a message in err (GSVAE_ERR_LEN) naming the ranks, the
 * GPU, the counts and the fixes, unless comm is GSVAE_COMM_MPI, which shares. */
int gsvae_device_check_sharing(int local_ranks, const char (*ids)[GSVAE_GPU_ID_LEN], const int *model,
                               gsvae_comm_kind comm, char *err);
