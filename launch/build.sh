#!/usr/bin/env bash
# Configures and builds gsvae into build/ (CUDA backend too when the toolkit and NCCL are found).
# Extra arguments go to cmake's configure step, e.g. -DGSVAE_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${GSVAE_BUILD_DIR:-build}
[ -x /usr/local/cuda/bin/nvcc ] && export PATH="$PATH:/usr/local/cuda/bin"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
