#!/usr/bin/env bash
# Runs a gsvae command with one MPI rank per GPU (or, with no GPU, per core), each rank bound to
# its own cores so that ranks and their BLAS threads do not migrate or share cores:
#   launch/mpirun_bind.sh build/gsvae train configs/seed.yaml
#   launch/mpirun_bind.sh build/gsvae sweep configs/sweep_jang.yaml train.epochs=3
# What it hands to Open MPI's mpirun (per node; under Slurm the allocation's nodes are used):
#   GPUs: -np G*nodes --map-by ppr:G:node:PE=C --bind-to core   G GPUs, C = cores/G per rank;
#         gsvae gives each rank the GPU (node-local rank) % G
#   CPUs: -np cores*nodes --map-by core --bind-to core -x OPENBLAS_NUM_THREADS=1 -x OMP_NUM_THREADS=1
# Environment: GSVAE_RANKS (ranks per node instead of G or the core count), GSVAE_DEVICE=cpu
# (ignore GPUs), GSVAE_MPIRUN_FLAGS (extra mpirun flags, e.g. --oversubscribe).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 GSVAE_BINARY COMMAND [ARGS...]" >&2; exit 2; }
nodes=${SLURM_JOB_NUM_NODES:-1}
cores=$(nproc)
gpus=0
if [ "${GSVAE_DEVICE:-auto}" != cpu ] && command -v nvidia-smi >/dev/null; then
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
fi
flags=(--bind-to core)
if [ "$gpus" -gt 0 ]; then
  per_node=${GSVAE_RANKS:-$gpus}
  flags+=(--map-by "ppr:${per_node}:node:PE=$(( cores / per_node > 0 ? cores / per_node : 1 ))")
else
  per_node=${GSVAE_RANKS:-$cores}
  flags+=(--map-by core -x OPENBLAS_NUM_THREADS=1 -x OMP_NUM_THREADS=1)
fi
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
# shellcheck disable=SC2206
extra=(${GSVAE_MPIRUN_FLAGS:-})
set -x
exec mpirun -np $(( per_node * nodes )) "${flags[@]}" "${extra[@]}" "$@"
