#!/usr/bin/env bash
# Two or more gsvae binaries side by side (a change's before and after): the seed setup's default
# mode for 300 steps on one process and on 2 ranks, samples/s of the log rows at steps 200 and
# 300, repetitions interleaved binary by binary; a Markdown table of ms/step medians.
#
#   bench/cpu/bench_builds.sh REPS LABEL=BINARY LABEL=BINARY ...
#
# e.g. cp build/gsvae /tmp/gsvae-before; (change, rebuild); bench/cpu/bench_builds.sh 5 before=/tmp/gsvae-before after=build/gsvae
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 2 ] || { echo "usage: bench/cpu/bench_builds.sh REPS LABEL=BINARY ..." >&2; exit 2; }
reps=$1; shift
for build in "$@"; do
  [ -x "${build#*=}" ] || { echo "bench_builds.sh: '${build#*=}' (from '$build') is not an executable" >&2; exit 2; }
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
declare -A rates
for ((rep = 0; rep < reps; rep++)); do
  for ranks in 1 2; do
    for build in "$@"; do
      launcher=(); [ "$ranks" -gt 1 ] && launcher=(mpirun -np "$ranks")
      rm -rf "$work/run"
      out=$("${launcher[@]}" "${build#*=}" train train.max_steps=300 run.log_every=100 run.ckpt_every=0 \
        run.resume=never run.dir="$work/run")
      rates[$build $ranks]+="$(grep -oE '[0-9]+ samples/s' <<<"$out" | tail -2 | cut -d' ' -f1 | tr '\n' ' ')"
    done
  done
done
echo "\`bench/cpu/bench_builds.sh $reps $*\`: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores,"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset (OpenBLAS picks)}, $reps interleaved repetitions, seed setup, 300 steps"
echo
echo "| build | ranks | samples/s (rows at steps 200 and 300) | ms/step (median) |"
echo "|---|---|---|---|"
for ranks in 1 2; do
  for build in "$@"; do
    median=$(tr ' ' '\n' <<<"${rates[$build $ranks]}" | grep . | sort -n |
      awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
    echo "| ${build%%=*} | $ranks | ${rates[$build $ranks]}| $(awk -v r="$median" 'BEGIN {printf "%.1f", 100000 / r}') |"
  done
done
