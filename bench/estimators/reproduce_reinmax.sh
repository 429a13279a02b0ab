#!/usr/bin/env bash
# The ReinMax paper's MNIST-VAE protocol at one shape (configs/reinmax/C x L .yaml, as the authors'
# scripts run it) for reinmax, st and st_softmax over seeds, one process at a time, in stages of
# epochs: every run reaches the first stage before any goes on to the next, so that whatever time
# allows gives the same epochs for every estimator and seed. Each run checkpoints at its epoch ends
# (run.resume=auto): killed and started again, the script picks up where it stopped; a run that
# already reached a stage is not run again for it. The baselines use ReinMax's settings for that
# shape (the authors' repository gives no others). Then summarize_reinmax.py OUT_DIR tabulates.
# REPRODUCE_JOBS=N runs N runs of a stage at once, each on one thread: the runs are independent,
# and one single-threaded process per core beats one process on all cores at this model's size.
#
#   bench/estimators/reproduce_reinmax.sh SHAPE OUT_DIR [SEEDS [STAGES [key=value ...]]]
#
# e.g. REPRODUCE_JOBS=2 nice -n 10 bench/estimators/reproduce_reinmax.sh 8x4 results/reinmax_8x4 "0 1 2" "5 10 20 40 80 160"
set -euo pipefail
cd "$(dirname "$0")/../.."
shape=$1 out=$2 seeds=${3:-"0 1 2"} stages=${4:-"160"}
shift $(( $# < 4 ? $# : 4 ))
config=configs/reinmax/$shape.yaml
[ -f "$config" ] || { echo "reproduce_reinmax.sh: no $config (shapes: $(ls configs/reinmax))" >&2; exit 2; }
gsvae=build/gsvae
jobs=${REPRODUCE_JOBS:-1}
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "reproduce_reinmax.sh: REPRODUCE_JOBS=$jobs, expected a count of runs >= 1" >&2; exit 2; }
[ "$jobs" -gt 1 ] && export OMP_NUM_THREADS=1
mkdir -p "$out"
echo "REPRODUCE_JOBS=$jobs $0 $shape $out \"$seeds\" \"$stages\" $*" >>"$out/commands.txt"
epochs_done() { # the epochs run.h5 has rows for (0 when there is none)
  /usr/bin/python3 -c "import h5py, sys
try:
    print(len(h5py.File(sys.argv[1], 'r')['curves/epochs/epoch']))
except (OSError, KeyError):
    print(0)" "$1/run.h5"
}
for stage in $stages; do
  for seed in $seeds; do
    for estimator in reinmax st st_softmax; do
      dir="$out/$estimator-seed$seed"
      [ "$(epochs_done "$dir")" -ge "$stage" ] && continue
      while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || failed=1; done
      echo "$(date -u +%H:%M:%S) $estimator seed $seed to epoch $stage" >&2
      "$gsvae" train "$config" "train.estimator=$estimator" "train.seed=$seed" "train.epochs=$stage" \
        run.log_every=600 run.ckpt_every=0 run.keep=1 run.resume=auto "run.dir=$dir" "$@" >>"$dir.log" &
    done
  done
  # a stage ends when all its runs have: the next stage starts none before, nor after a failure
  while [ -n "$(jobs -rp)" ]; do wait -n || failed=1; done
  [ -z "${failed:-}" ] || { echo "reproduce_reinmax.sh: a run failed; its log is in $out" >&2; exit 1; }
done
