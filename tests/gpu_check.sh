#!/usr/bin/env bash
# Everything a GPU machine must show, in one go, logs and tables into OUT_DIR: what the binaries
# link (ldd), `gsvae info`, the GPU tests (CPU vs GPU after one step and over 100 steps, graph
# replay vs eager, NCCL with one rank vs none), 1-4 ranks sharing the GPU through device.comm=mpi
# against NCCL at one rank, resume across devices and the faults (tests/gpu_ranks_check.py), one epoch of the seed setup on the GPU beside one on
# the CPU (same seed: their losses side by side), and bench/gpu/bench_gpu.sh (gsvae vs PyTorch eager
# and compiled at batch 100, 1024, 8192).
#
#   tests/gpu_check.sh OUT_DIR
#
# Needs a build with the CUDA backend (launch/build.sh where the toolkit and NCCL are installed;
# GSVAE_BUILD_DIR names another) and the Fashion-MNIST IDX files (GSVAE_DATA, default Debian's
# /usr/share/datasets/fashion-mnist). Where the machine lacks the Debian libraries, a runtime packed
# by ../shared/device/pack-runtime.sh into .devrt/ is sourced. Every step runs even if an earlier
# one failed, each under GSVAE_STEP_TIMEOUT seconds (default 900); the exit code says whether any
# failed. On an H100 the whole check takes about 5 minutes (tests/reports/gpu_check_h100.md).
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: tests/gpu_check.sh OUT_DIR" >&2; exit 2; }
out=$1 build=${GSVAE_BUILD_DIR:-build} data=${GSVAE_DATA:-/usr/share/datasets/fashion-mnist}
mkdir -p "$out"
[ -f .devrt/env.sh ] && source .devrt/env.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
failed=0
step_limit=${GSVAE_STEP_TIMEOUT:-900} # seconds: a hang becomes a failed step (exit 124), not a lost run
step() { # step NAME COMMAND...: runs it, its output into OUT_DIR/NAME.log, one summary line
  local name=$1; shift
  local start=$SECONDS
  timeout "$step_limit" "$@" >"$out/$name.log" 2>&1
  local code=$?
  [ "$code" -eq 0 ] || failed=$((failed + 1))
  printf '%-16s exit %3d  %4d s  %s\n' "$name" "$code" $((SECONDS - start)) "$out/$name.log" | tee -a "$out/summary.txt"
}
: >"$out/summary.txt"
step ldd bash -c "ldd $build/gsvae $build/tests/gpu_test $build/bench/gpu_bench; ! ldd $build/gsvae $build/tests/gpu_test $build/bench/gpu_bench | grep 'not found'"
step info "$build/gsvae" info
step nvidia_smi nvidia-smi
for mode in one_step hundred_steps graphs nccl; do step "gpu_$mode" "$build/tests/gpu_test" "$mode"; done
# ranks sharing the GPU (device.comm=mpi) against NCCL, resume across devices, faults
step gpu_ranks /usr/bin/python3 tests/gpu_ranks_check.py "$build/gsvae" mpiexec "$data" "$out/ranks" cuda
epoch=(train configs/seed.yaml "data.dir=$data" train.epochs=1 run.resume=never run.log_every=100)
step epoch_gpu "$build/gsvae" "${epoch[@]}" device.backend=cuda "run.dir=$out/epoch_gpu"
step epoch_cpu "$build/gsvae" "${epoch[@]}" device.backend=cpu "run.dir=$out/epoch_cpu"
step bench env GSVAE_BUILD_DIR="$build" GSVAE_BENCH_DATA="$data" bench/gpu/bench_gpu.sh
[ -f bench/gpu/results/gpu_bench.md ] && cp bench/gpu/results/gpu_bench.md "$out/"
grep -H '^epoch' "$out/epoch_gpu.log" "$out/epoch_cpu.log" >>"$out/summary.txt" 2>/dev/null
echo "$failed step(s) failed" | tee -a "$out/summary.txt"
exit $((failed > 0))
