#!/usr/bin/env bash
# CPU benchmark of the seed step (batch 100, unrelaxed on): gsvae vs the PyTorch reference vs the
# step's matrix products alone, interleaved, medians; writes results/cpu_step_time.md.
set -euo pipefail
cd "$(dirname "$0")/.."
launch/install.sh --test
launch/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
/usr/bin/python3 tests/bench_cpu.py build/gsvae results/cpu_step_time.md "$@"
