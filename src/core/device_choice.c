/* The device rules of device_choice.h. */
#include <stdio.h>
#include <string.h>
#include "core/check.h"
#include "core/device_choice.h"

int gsvae_device_use_gpu(gsvae_device_kind backend, bool cuda_built, int visible_gpus, char *why) {
  why[0] = '\0';
  if (backend == GSVAE_DEVICE_CPU) return 0;
  if (!cuda_built) {
    if (backend == GSVAE_DEVICE_CUDA)
      return gsvae_errorf(why, "device.backend=cuda but this gsvae was built without CUDA (docs/gpu.md)");
    snprintf(why, GSVAE_ERR_LEN, "this gsvae was built without CUDA");
    return 0;
  }
  if (visible_gpus == 0) {
    if (backend == GSVAE_DEVICE_CUDA)
      return gsvae_errorf(why, "device.backend=cuda but no GPU is visible to this rank (no driver, no GPU, or "
                          "CUDA_VISIBLE_DEVICES empty; on Slurm, ask for GPUs with --gpus-per-task)");
    snprintf(why, GSVAE_ERR_LEN, "no GPU is visible to this rank");
    return 0;
  }
  return 1;
}

int gsvae_device_gpu_index(int local_rank, int local_ranks, int visible_gpus) {
  if (visible_gpus >= local_ranks) return local_rank;
  return local_rank % visible_gpus;
}

int gsvae_device_check_sharing(int local_ranks, const char (*ids)[GSVAE_GPU_ID_LEN], const int *model,
                               gsvae_comm_kind comm, char *err) {
  if (comm == GSVAE_COMM_MPI) return 0;
  int gpus = 0; /* distinct GPUs the ranks took */
  for (int r = 0; r < local_ranks; r++) {
    if (!ids[r][0]) continue;
    bool first = true;
    for (int s = 0; s < r; s++) first = first && strcmp(ids[s], ids[r]) != 0;
    gpus += first;
  }
  for (int r = 0; r < local_ranks; r++)
    for (int s = r + 1; s < local_ranks; s++)
      if (ids[r][0] && model[r] == model[s] && !strcmp(ids[r], ids[s])) {
        int sharing = 0; /* ranks of that model */
        for (int q = 0; q < local_ranks; q++) sharing += ids[q][0] && model[q] == model[r];
        return gsvae_errorf(err,
                            "ranks %d and %d of one NCCL communicator would share GPU %s (%d ranks of it on %d "
                            "GPU%s): NCCL refuses that. Start at most one rank per GPU "
                            "(mpirun -np, or Slurm's --ntasks-per-node with --gpus-per-task=1), or set "
                            "device.comm=mpi to let ranks share a GPU (slower: eager steps through host memory)",
                            r, s, ids[r], sharing, gpus, gpus == 1 ? "" : "s");
      }
  return 0;
}
