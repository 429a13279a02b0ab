#!/usr/bin/env bash
# The ReinMax paper's MNIST-VAE protocol at one shape (configs/reinmax/C x L .yaml, as the authors'
# scripts run it) for reinmax, st and st_softmax over seeds, in stages of epochs: a run goes on to
# a stage only when every run has started the one before, so that whatever time allows gives the
# same epochs, give or take a stage, for every estimator and seed. Each run checkpoints at its epoch
# ends (run.resume=auto): killed and started again, the script picks up where it stopped; a run that
# already reached a stage is not run again for it. The baselines use ReinMax's settings for that
# shape (the authors' repository gives no others). Then summarize_reinmax.py OUT_DIR tabulates.
# REPRODUCE_JOBS=N (1) runs N runs at once, each on one thread: the runs are independent (at 8x4 on
# a 2-core Zen 3, two at once took 10.5 s an epoch each, one alone 9.0 s). A core freed at a stage's
# end takes the next stage of a run that is done with this one.
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
if [ "$jobs" -gt 1 ]; then export OMP_NUM_THREADS=1; fi
mkdir -p "$out"
echo "REPRODUCE_JOBS=$jobs $0 $shape $out \"$seeds\" \"$stages\" $*" >>"$out/commands.txt"
epochs_done() { # the epochs run.h5 has rows for (0 when there is none)
  /usr/bin/python3 -c "import h5py, sys
try:
    print(len(h5py.File(sys.argv[1], 'r')['curves/epochs/epoch']))
except (OSError, KeyError):
    print(0)" "$1/run.h5"
}
# the (stage, run) jobs, stage by stage; a job starts when a slot is free and its run is idle
queue=()
for stage in $stages; do
  for seed in $seeds; do
    for estimator in reinmax st st_softmax; do queue+=("$stage $estimator $seed"); done
  done
done
declare -A run_of_pid=() busy=()
failed=0
while :; do
  remaining=()
  for job in "${queue[@]}"; do
    read -r stage estimator seed <<<"$job"
    dir="$out/$estimator-seed$seed"
    if [ "$failed" -ne 0 ] || [ -n "${busy[$dir]:-}" ] || [ "${#run_of_pid[@]}" -ge "$jobs" ]; then
      remaining+=("$job")
      continue
    fi
    [ "$(epochs_done "$dir")" -ge "$stage" ] && continue
    echo "$(date -u +%H:%M:%S) $estimator seed $seed to epoch $stage" >&2
    "$gsvae" train "$config" "train.estimator=$estimator" "train.seed=$seed" "train.epochs=$stage" \
      run.log_every=600 run.ckpt_every=0 run.keep=1 run.resume=auto "run.dir=$dir" "$@" >>"$dir.log" &
    run_of_pid[$!]=$dir
    busy[$dir]=1
  done
  queue=("${remaining[@]}")
  [ "${#run_of_pid[@]}" -eq 0 ] && break
  status=0
  wait -n -p finished "${!run_of_pid[@]}" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "reproduce_reinmax.sh: the run in ${run_of_pid[$finished]} failed (exit $status); its log is ${run_of_pid[$finished]}.log" >&2
    failed=1
  fi
  unset "busy[${run_of_pid[$finished]}]" "run_of_pid[$finished]"
done
[ "$failed" -eq 0 ] && [ "${#queue[@]}" -eq 0 ]
