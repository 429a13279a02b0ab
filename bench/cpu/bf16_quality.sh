#!/usr/bin/env bash
# bf16's quality against fp32: the seed setup for N epochs (10) over seeds (0 1 2) with
# device.precision=fp32 and =bf16, the final test loss of each run, the means +- sd and bf16's
# mean relative to fp32's, into bench/cpu/results/bf16_quality_<N>.md. Needs a CPU with AVX512_BF16
# or AMX (bf16 is refused elsewhere). No timings: the runs may share the machine (the losses do not
# depend on it); bench/cpu/bench_bf16.sh measures speed.
#   bench/cpu/bf16_quality.sh [EPOCHS [SEEDS]]
set -euo pipefail
cd "$(dirname "$0")/../.."
epochs=${1:-10} seeds=${2:-"0 1 2"}
out=bench/cpu/results/bf16_quality_${epochs}.md
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rows=""
for seed in $seeds; do
  for precision in fp32 bf16; do
    build/gsvae train configs/seed.yaml "train.epochs=$epochs" "train.seed=$seed" "device.precision=$precision" \
      run.log_every=600 run.ckpt_every=0 run.resume=never "run.dir=$work/$precision-$seed" >"$work/$precision-$seed.log"
    loss=$(grep '^epoch' "$work/$precision-$seed.log" | tail -1 | sed -E 's/.*\| test ([0-9.]+) \|.*/\1/')
    echo "$precision seed $seed: test loss $loss" >&2
    rows+="$precision $seed $loss"$'\n'
  done
done
{
  echo "# bf16 against fp32: the seed setup, $epochs epochs, seeds $seeds"
  echo
  echo "\`bench/cpu/bf16_quality.sh $epochs \"$seeds\"\` on $(date -u +%Y-%m-%d), $(getconf _NPROCESSORS_ONLN) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(build/gsvae info | sed -nE 's/^ *BLAS +//p'). The final epoch's test loss (the unrelaxed -ELBO on the 10,000 test images)."
  echo
  echo "| precision | test loss, mean ± sd | per seed |"
  echo "|---|---:|---|"
  for precision in fp32 bf16; do
    awk -v p=$precision '$1 == p { n++; s += $3; q += $3 * $3; list = list (list ? ", " : "") $3 }
      END { m = s / n; sd = n > 1 ? sqrt((q - n * m * m) / (n - 1)) : 0
            printf "| %s | %.3f ± %.3f | %s |\n", p, m, sd, list }' <<<"$rows"
  done
  echo
  awk '$1 == "fp32" { f += $3; nf++ } $1 == "bf16" { b += $3; nb++ }
    END { printf "bf16 mean / fp32 mean - 1 = %+.3f%% (the issue asks within 0.5%%)\n", 100 * ((b / nb) / (f / nf) - 1) }' <<<"$rows"
} >"$out"
cat "$out"
