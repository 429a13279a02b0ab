#!/usr/bin/env bash
# How ranks on one node exchange gradients and parameters, measured: whole epochs of the seed setup
# with device.shared_memory=false (MPI messages, as between nodes: the baseline) and true (the
# default: one shared-memory window), one process and 2 ranks, repetitions interleaved, medians and
# ratios to messages (bench/blas/bench_blas_epochs.py). Writes
# bench/cpu/results/exchange_epochs_<N>_<cpu>.md, <cpu> from /proc/cpuinfo as bench_bf16.sh names it.
#   bench/cpu/bench_exchange.sh [--epochs 3] [--reps 5]
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/cpu/epochs_setup.sh "$@"
out=bench/cpu/results/exchange_epochs_${epochs}_${cpu}.md
/usr/bin/python3 bench/blas/bench_blas_epochs.py "$out" messages=build/gsvae,device.shared_memory=false \
  shared=build/gsvae --command "bench/cpu/bench_exchange.sh $*" \
  --title "CPU ranks exchanging by MPI messages and in one node's shared memory" --reps 5 "$@"
cat "$out"
