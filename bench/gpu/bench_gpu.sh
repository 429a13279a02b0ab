#!/usr/bin/env bash
# The GPU benchmark in one command on a GPU machine: PyTorch eager and torch.compile vs gsvae at
# batch 100, 1024, 8192 (+ cuBLAS-only time of the step's products), and one epoch CPU vs GPU when
# the data is there; writes bench/gpu/results/gpu_bench.md. Build first: launch/build.sh (CUDA found), or
# set GSVAE_BUILD_DIR; a packed Debian runtime in .devrt/ is sourced when present.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${GSVAE_BUILD_DIR:-build}
data=${GSVAE_BENCH_DATA:-/usr/share/datasets/fashion-mnist}
[ -f .devrt/env.sh ] && source .devrt/env.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p bench/gpu/results
parity=()
[ -e "$data/train-images-idx3-ubyte.gz" ] || [ -e "$data/train-images-idx3-ubyte" ] && parity=(--gsvae "$build/gsvae" --data "$data")
"$build/gsvae" info
exec "${GSVAE_BENCH_PYTHON:-python3}" bench/gpu/bench_gpu.py --bench "$build/bench/gpu_bench" --out bench/gpu/results/gpu_bench.md "${parity[@]}" "$@"
