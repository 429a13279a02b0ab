#!/usr/bin/env bash
# Step time of the two reductions (train.deterministic true/false) on one process and 2 ranks:
# the seed setup for 300 steps, samples/s of the log rows at steps 200 and 300, interleaved
# repetitions. `launch/bench_reduction.sh [REPS]` (3); prints a Markdown table of ms/step medians.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-3}
gsvae=build/gsvae
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
declare -A rates
for ((rep = 0; rep < reps; rep++)); do
  for det in false true; do
    for ranks in 1 2; do
      launcher=(); [ "$ranks" -gt 1 ] && launcher=(mpirun -np "$ranks")
      rm -rf "$work/run"
      out=$("${launcher[@]}" "$gsvae" train train.max_steps=300 run.log_every=100 run.ckpt_every=0 run.resume=never \
        train.deterministic=$det run.dir="$work/run")
      rates[$det,$ranks]+="$(grep -oE '[0-9]+ samples/s' <<<"$out" | tail -2 | cut -d' ' -f1 | tr '\n' ' ')"
    done
  done
done
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset, OpenBLAS picks}, $(nproc) cores, $reps interleaved repetitions"
echo
echo "| ranks | train.deterministic | samples/s (rows at steps 200 and 300) | ms/step (median) |"
echo "|---|---|---|---|"
for det in false true; do
  for ranks in 1 2; do
    median=$(tr ' ' '\n' <<<"${rates[$det,$ranks]}" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
    echo "| $ranks | $det | ${rates[$det,$ranks]}| $(awk -v r="$median" 'BEGIN {printf "%.1f", 100000 / r}') |"
  done
done
