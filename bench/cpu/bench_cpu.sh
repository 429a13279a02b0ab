#!/usr/bin/env bash
# CPU benchmark at steady state: whole epochs and whole runs of the seed setup, gsvae (one process
# and 2 ranks) vs the seed's PyTorch code with and without flushed denormals, and the step's matrix
# products alone; interleaved, medians. `--epochs N --reps R` (3 and 3); writes
# bench/cpu/results/cpu_epochs_<N>.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
launch/install.sh --test
launch/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
epochs=3
for ((i = 1; i <= $#; i++)); do [ "${!i}" = --epochs ] && { next=$((i + 1)); epochs=${!next}; }; done
/usr/bin/python3 bench/cpu/bench_cpu.py build/gsvae "bench/cpu/results/cpu_epochs_${epochs}.md" "$@"
