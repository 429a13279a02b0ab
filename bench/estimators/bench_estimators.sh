#!/usr/bin/env bash
# The training step's cost per estimator (train.estimator) on the papers' MNIST-VAE
# (configs/mnist_vae.yaml, batch 100): one process, 400 steps, samples/s of the log rows at steps
# 200, 300 and 400 (past the first steps), interleaved repetitions; ms/step medians and the ratio
# to st's. GR-MCK over K = 1, 10, 100, 1000 (train.estimator_samples), score function over S = 1
# (moving-average baseline) and 2, 4, 10 (leave-one-out), with the cost per sample.
# `bench/estimators/bench_estimators.sh OUT.md [REPS [key=value ...]]` (3 repetitions); writes and prints the table.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$1 reps=${2:-3}
shift $(( $# < 2 ? $# : 2 ))
gsvae=build/gsvae
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# estimator, samples (K or S; 1 where it has none), sf baseline
cases=("st 1 ema" "gs 1 ema" "st_softmax 1 ema" "gst 1 ema" "reinmax 1 ema" "grmck 1 ema" "grmck 10 ema"
       "grmck 100 ema" "grmck 1000 ema" "sf 1 ema" "sf 2 loo" "sf 4 loo" "sf 10 loo")
declare -A rates
start=$SECONDS
for ((rep = 0; rep < reps; rep++)); do
  for case in "${cases[@]}"; do
    read -r estimator samples baseline <<<"$case"
    rm -rf "$work/run"
    log=$("$gsvae" train configs/mnist_vae.yaml "train.estimator=$estimator" "train.estimator_samples=$samples" \
      "train.sf_baseline=$baseline" train.max_steps=400 run.log_every=100 run.ckpt_every=0 run.resume=never \
      run.dir="$work/run" "$@")
    rates[$case]+="$(grep -oE '[0-9]+ samples/s' <<<"$log" | tail -3 | cut -d' ' -f1 | tr '\n' ' ')"
  done
done
median_ms() {  # ms/step of a batch of 100 at the median of the rates given
  tr ' ' '\n' <<<"$1" | grep . | sort -n |
    awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.2f", 100000 / m}'
}
st_ms=$(median_ms "${rates[st 1 ema]}")
{
  echo "# The training step's cost per estimator"
  echo
  echo "\`bench/estimators/bench_estimators.sh $out $reps $*\` on $(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'),"
  echo "$(nproc) cores, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset (OpenBLAS picks)}, $((SECONDS - start)) s: configs/mnist_vae.yaml $*,"
  echo "one process on every core, batch 100, 400 steps; samples/s of the log rows at steps 200, 300, 400 of"
  echo "$reps interleaved repetitions, ms/step at their median."
  echo
  echo "| estimator | K or S | samples/s | ms/step | × st | ms per extra sample |"
  echo "|---|---:|---|---:|---:|---:|"
  for case in "${cases[@]}"; do
    read -r estimator samples baseline <<<"$case"
    ms=$(median_ms "${rates[$case]}")
    label=$estimator; [ "$estimator" = sf ] && label="sf ($baseline)"
    count=-; extra=-
    case $estimator in
      grmck|sf) count=$samples
        [ "$samples" -gt 1 ] && extra=$(awk -v m="$ms" -v b="$st_ms" -v s="$samples" 'BEGIN {printf "%.2f", (m - b) / (s - 1)}') ;;
    esac
    echo "| \`$label\` | $count | ${rates[$case]}| $ms | $(awk -v m="$ms" -v b="$st_ms" 'BEGIN {printf "%.2f", m / b}') | $extra |"
  done
} >"$out"
cat "$out"
