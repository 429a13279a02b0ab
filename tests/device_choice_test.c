/* The device rules (src/core/device_choice.h) over their cases: CPU or GPU from device.backend,
 * the build and the GPUs visible; the GPU of each node-local rank, even and uneven counts; and
 * which sharings NCCL's refusal allows. Exact answers: no tolerance. */
#include <stdio.h>
#include <string.h>
#include "core/check.h"
#include "core/device_choice.h"
#include "expect.h"

static void use_gpu_case(gsvae_device_kind backend, bool built, int visible, int expected, const char *in_why) {
  char why[GSVAE_ERR_LEN], what[160];
  int got = gsvae_device_use_gpu(backend, built, visible, why);
  snprintf(what, sizeof what, "use_gpu(backend %d, built %d, %d GPUs) = %d, why mentions '%s'", backend, built,
           visible, expected, in_why);
  expect(got == expected && strstr(why, in_why) != NULL, what, got, expected);
}

/* ranks-per-node ranks seeing `visible` GPUs each (shared visibility); ids "0", "1", ... */
static int check_layout(int ranks, int visible, const int *model, gsvae_comm_kind comm, char *err) {
  char ids[16][GSVAE_GPU_ID_LEN];
  for (int r = 0; r < ranks; r++) snprintf(ids[r], GSVAE_GPU_ID_LEN, "%d", gsvae_device_gpu_index(r, ranks, visible));
  return gsvae_device_check_sharing(ranks, (const char (*)[GSVAE_GPU_ID_LEN])ids, model, comm, err);
}

int main(void) {
  /* CPU or GPU */
  use_gpu_case(GSVAE_DEVICE_CPU, true, 4, 0, "");
  use_gpu_case(GSVAE_DEVICE_AUTO, true, 4, 1, "");
  use_gpu_case(GSVAE_DEVICE_AUTO, true, 0, 0, "no GPU is visible");
  use_gpu_case(GSVAE_DEVICE_AUTO, false, 4, 0, "built without CUDA");
  use_gpu_case(GSVAE_DEVICE_CUDA, true, 1, 1, "");
  use_gpu_case(GSVAE_DEVICE_CUDA, true, 0, -1, "device.backend=cuda but no GPU");
  use_gpu_case(GSVAE_DEVICE_CUDA, false, 2, -1, "built without CUDA");

  /* which GPU: one per local rank when there are enough, else modulo; one visible: that one */
  int even = 1, uneven = 1, one = 1;
  for (int r = 0; r < 8; r++) even &= gsvae_device_gpu_index(r, 8, 8) == r;
  for (int r = 0; r < 3; r++) even &= gsvae_device_gpu_index(r, 3, 8) == r; /* fewer ranks than GPUs */
  for (int r = 0; r < 5; r++) uneven &= gsvae_device_gpu_index(r, 5, 2) == r % 2;
  for (int r = 0; r < 4; r++) one &= gsvae_device_gpu_index(r, 4, 1) == 0;
  expect(even, "gpu_index: local rank r takes GPU r when there are enough (8 of 8, 3 of 8)", !even, 0);
  expect(uneven, "gpu_index: 5 ranks on 2 GPUs take r mod 2", !uneven, 0);
  expect(one, "gpu_index: a rank that sees one GPU takes it", !one, 0);

  /* sharing */
  char err[GSVAE_ERR_LEN];
  int same[16] = {0}, own[16];
  for (int r = 0; r < 16; r++) own[r] = r;
  expect(check_layout(4, 4, same, GSVAE_COMM_NCCL, err) == 0, "sharing: 4 ranks, 4 GPUs, NCCL: allowed", 0, 0);
  int refused = check_layout(3, 2, same, GSVAE_COMM_NCCL, err);
  expect(refused == -1 && strstr(err, "ranks 0 and 2") && strstr(err, "3 ranks of it on 2 GPUs") &&
             strstr(err, "device.comm=mpi"),
         "sharing: 3 ranks, 2 GPUs, one NCCL model: refused naming ranks 0 and 2, the counts and the fix", refused, -1);
  printf("    %s\n", err);
  expect(check_layout(3, 2, same, GSVAE_COMM_MPI, err) == 0, "sharing: 3 ranks, 2 GPUs, device.comm=mpi: allowed", 0,
         0);
  expect(check_layout(5, 2, own, GSVAE_COMM_NCCL, err) == 0,
         "sharing: 5 one-rank sweep groups on 2 GPUs, NCCL: allowed (separate communicators)", 0, 0);
  int pairs[6] = {0, 0, 1, 1, 2, 2}; /* groups of 2 ranks on 3 GPUs: ranks 0,3 share GPU 0 but differ in group */
  expect(check_layout(6, 3, pairs, GSVAE_COMM_NCCL, err) == 0,
         "sharing: 3 groups of 2 ranks on 3 GPUs, none of one group on one GPU: allowed", 0, 0);
  int split[4] = {0, 1, 0, 1}; /* groups {0,2} and {1,3} on 2 GPUs: ranks 0 and 2 both take GPU 0 */
  refused = check_layout(4, 2, split, GSVAE_COMM_NCCL, err);
  expect(refused == -1 && strstr(err, "ranks 0 and 2"), "sharing: a group's two ranks on one GPU: refused", refused,
         -1);
  /* a launcher binding each rank to its own GPU: every rank sees one, the bus ids differ */
  char bound[4][GSVAE_GPU_ID_LEN] = {"0000:1b:00.0", "0000:3b:00.0", "0000:5b:00.0", "0000:db:00.0"};
  expect(gsvae_device_check_sharing(4, (const char (*)[GSVAE_GPU_ID_LEN])bound, same, GSVAE_COMM_NCCL, err) == 0,
         "sharing: each rank shown its own GPU (distinct bus ids): allowed", 0, 0);
  char cpu[2][GSVAE_GPU_ID_LEN] = {"", ""};
  expect(gsvae_device_check_sharing(2, (const char (*)[GSVAE_GPU_ID_LEN])cpu, same, GSVAE_COMM_NCCL, err) == 0,
         "sharing: CPU ranks share nothing", 0, 0);
  printf("%s\n", failures ? "FAILED" : "all passed");
  return failures ? 1 : 0;
}
