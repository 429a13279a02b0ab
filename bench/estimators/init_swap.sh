#!/bin/bash
# Does the starting point decide how far ReinMax's 8x4 run gets? For each seed, the authors' code
# (bench/estimators/authors_vae.py) is trained EPOCHS epochs twice with the same torch seed, so the
# same noise and batch order: once from its own initialization, once from gsvae's (the checkpoint
# of `gsvae train configs/reinmax/8x4.yaml train.seed=SEED` after one step, loaded with from=; their
# first epoch then takes 601 steps). The table: each run's train -ELBO at EPOCHS and the difference.
# The two runs of a seed go side by side, one thread each. Started again, it reruns nothing done:
# a log that reached EPOCHS counts as done (a longer run's log, linked in, serves as well).
#
#   bench/estimators/init_swap.sh CHECKOUT/mnist_vae OUT_DIR "SEEDS" EPOCHS
#   e.g. bench/estimators/init_swap.sh /tmp/ReinMax/mnist_vae results/init_swap "0 1 2 3 4 5 6" 10
# DATA (default /usr/share/datasets/fashion-mnist) must be configs/reinmax/8x4.yaml's data.dir.
set -euo pipefail
if [ $# -ne 4 ]; then
  sed -n '2,12p' "$0" >&2
  exit 2
fi
authors_dir=$(realpath "$1") out=$2 seeds=$3 epochs=$4
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${DATA:-/usr/share/datasets/fashion-mnist}
mkdir -p "$out"
out=$(realpath "$out")
done_log() { grep -q "^epoch $epochs train" "$1" 2>/dev/null; }
authors_run() {  # log, then authors_vae.py's options after C L
  local log=$1
  shift
  done_log "$log" && return 0
  OMP_NUM_THREADS=1 /usr/bin/python3 "$root/bench/estimators/authors_vae.py" "$authors_dir" "$data" "$epochs" \
    "$seed" reinmax 5e-4 1.3 8 4 "$@" > "$log.part" 2>&1
  mv "$log.part" "$log"
}
for seed in $seeds; do
  start="$out/gsvae-seed$seed/ckpt/step_00000001.h5"
  if [ ! -f "$start" ] && ! done_log "$out/gsvae-init-seed$seed.log"; then
    (cd "$root" && OMP_NUM_THREADS=1 build/gsvae train configs/reinmax/8x4.yaml train.seed="$seed" \
      train.max_steps=1 run.ckpt_every=1 run.resume=never run.dir="$out/gsvae-seed$seed" > /dev/null)
  fi
  authors_run "$out/own-init-seed$seed.log" &
  own=$!
  authors_run "$out/gsvae-init-seed$seed.log" "from=$start"
  wait "$own"
done
train_at() { awk -v e="$epochs" '$1 == "epoch" && $2 == e { print $4 }' "$1"; }
echo "| seed | their init | gsvae's init | gsvae's − theirs |"
echo "|---:|---:|---:|---:|"
for seed in $seeds; do
  own=$(train_at "$out/own-init-seed$seed.log") swapped=$(train_at "$out/gsvae-init-seed$seed.log")
  echo "| $seed | $own | $swapped | $(awk -v a="$own" -v b="$swapped" 'BEGIN { printf "%+.2f", b - a }') |"
done
