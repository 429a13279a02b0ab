#!/usr/bin/env bash
# Step time of the two reductions (train.deterministic true/false) on one process and 2 ranks, of
# the deterministic mode on one process held to one thread (its single-threaded path: chunks one
# after another, as before its threads computed chunks side by side), and with 2 chunks instead of
# the default 8 (train.reduce_chunks: the most ranks the run may use): the seed setup for 300
# steps, samples/s of the log rows at steps 200 and 300, interleaved repetitions.
# `bench/reduction/bench_reduction.sh [REPS]` (3); prints a Markdown table of ms/step medians.
set -euo pipefail
cd "$(dirname "$0")/../.."
reps=${1:-3}
gsvae=build/gsvae
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# deterministic, ranks, threads (any: the rank's share of the cores; one: held to 1), chunks
cases=("false 1 any 8" "false 2 any 8" "true 1 any 8" "true 1 one 8" "true 2 any 8" "true 1 any 2" "true 1 one 2"
       "true 2 any 2")
declare -A rates
for ((rep = 0; rep < reps; rep++)); do
  for case in "${cases[@]}"; do
    read -r det ranks threads chunks <<<"$case"
    launcher=(); [ "$ranks" -gt 1 ] && launcher=(mpirun -np "$ranks")
    held=(); [ "$threads" = one ] && held=(env OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1)
    rm -rf "$work/run"
    out=$("${held[@]}" "${launcher[@]}" "$gsvae" train train.max_steps=300 run.log_every=100 run.ckpt_every=0 \
      run.resume=never train.deterministic=$det train.reduce_chunks=$chunks run.dir="$work/run")
    rates[$case]+="$(grep -oE '[0-9]+ samples/s' <<<"$out" | tail -2 | cut -d' ' -f1 | tr '\n' ' ')"
  done
done
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset, OpenBLAS picks}, $(nproc) cores, $reps interleaved repetitions"
echo
echo "| ranks | train.deterministic | train.reduce_chunks | threads per rank | samples/s (rows at steps 200 and 300) | ms/step (median) |"
echo "|---|---|---|---|---|---|"
for case in "${cases[@]}"; do
  read -r det ranks threads chunks <<<"$case"
  median=$(tr ' ' '\n' <<<"${rates[$case]}" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
  label=$([ "$threads" = one ] && echo "1 (held)" || echo "its share of the cores")
  [ "$det" = false ] && chunks="(one per rank)"
  echo "| $ranks | $det | $chunks | $label | ${rates[$case]}| $(awk -v r="$median" 'BEGIN {printf "%.1f", 100000 / r}') |"
done
