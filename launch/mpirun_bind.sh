#!/usr/bin/env bash
# Runs a gsvae command with one MPI rank per GPU (or, with no GPU, per core), each rank bound to
# its own cores so that ranks and their BLAS threads do not migrate or share cores:
#   launch/mpirun_bind.sh build/gsvae train configs/seed.yaml
#   launch/mpirun_bind.sh build/gsvae sweep configs/sweep_jang.yaml train.epochs=3
#   GSVAE_DRY_RUN=1 launch/mpirun_bind.sh build/gsvae train configs/seed.yaml   # prints, runs nothing
# What it hands to Open MPI's mpirun (per node; under Slurm the allocation's nodes are used):
#   GPUs: -np G*nodes --map-by ppr:G:node:PE=C --bind-to core   G GPUs, C = cores/G per rank;
#         train and sweep get device.backend=cuda, and gsvae gives node-local rank r GPU r
#   CPUs: -np cores*nodes --map-by core --bind-to core -x OPENBLAS_NUM_THREADS=1 -x OMP_NUM_THREADS=1;
#         train and sweep get device.backend=cpu
# The dry run prints the mpirun line and, from `gsvae placement` (training's own rules), the
# device each node-local rank takes, or why the layout is refused (exit 2).
# Environment: GSVAE_RANKS (ranks per node instead of G or the core count), GSVAE_DEVICE=cpu
# (ignore GPUs), GSVAE_GPUS and GSVAE_CORES (per node, instead of nvidia-smi's and nproc's
# counts), GSVAE_MPIRUN_FLAGS (extra mpirun flags, e.g. --oversubscribe), GSVAE_DRY_RUN=1.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 GSVAE_BINARY COMMAND [ARGS...]" >&2; exit 2; }
gsvae=$1
command=$2
nodes=${SLURM_JOB_NUM_NODES:-1}
cores=${GSVAE_CORES:-$(nproc)}
gpus=0
if [ "${GSVAE_DEVICE:-auto}" != cpu ]; then
  if [ -n "${GSVAE_GPUS:-}" ]; then
    gpus=$GSVAE_GPUS
  elif command -v nvidia-smi >/dev/null; then
    gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
  fi
fi
flags=(--bind-to core)
if [ "$gpus" -gt 0 ]; then
  per_node=${GSVAE_RANKS:-$gpus}
  per_rank=$(( cores / per_node > 0 ? cores / per_node : 1 ))
  flags+=(--map-by "ppr:${per_node}:node:PE=${per_rank}")
  backend=cuda
else
  per_node=${GSVAE_RANKS:-$cores}
  per_rank=1
  flags+=(--map-by core -x OPENBLAS_NUM_THREADS=1 -x OMP_NUM_THREADS=1)
  backend=cpu
fi
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
# shellcheck disable=SC2206
extra=(${GSVAE_MPIRUN_FLAGS:-})
args=("${@:3}")
case $command in train | sweep) args+=("device.backend=$backend") ;; esac
line=(mpirun -np $(( per_node * nodes )) "${flags[@]}" "${extra[@]}" "$gsvae" "$command" "${args[@]}")
if [ "${GSVAE_DRY_RUN:-0}" = 1 ]; then
  echo "launch: ${line[*]}"
  echo "nodes: $nodes, per node: $per_node rank(s), $gpus GPU(s), $cores core(s) ($per_rank per rank)"
  # the config arguments placement reads: train's file and keys, sweep's keys
  placement_args=()
  for arg in "${args[@]}"; do
    case $arg in *=*) placement_args+=("$arg") ;; -*) ;; *) [ "$command" = train ] && placement_args+=("$arg") ;; esac
  done
  for (( r = 0; r < per_node; r++ )); do
    echo "  local rank $r: cores $(( r * per_rank ))-$(( r * per_rank + per_rank - 1 ))"
  done
  # a sweep's groups train separate models, which may share a GPU: its own start checks its groups
  [ "$command" = sweep ] && placement_args+=(--separate-models)
  exec "$gsvae" placement --ranks-per-node "$per_node" --gpus "$gpus" "${placement_args[@]}"
fi
set -x
exec "${line[@]}"
