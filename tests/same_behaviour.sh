#!/usr/bin/env bash
# Owns the "behaviour unchanged" check of a refactor (issue 17): the seed setup, every estimator,
# tau.learn and a few paths a refactor could shift (ordered fold, schedule, binarizing, epoch
# end), each 200 steps on 1 and on 2 ranks under two gsvae builds; run.h5 and every checkpoint
# (the last at step 200) must be byte-identical (tests/same_behaviour.py compares them).
# Not in ctest: it needs two builds.
#
#   tests/same_behaviour.sh [--cases NAME,...] [--new-args 'KEY=VALUE ...'] OLD_GSVAE NEW_GSVAE [WORKDIR]
#
# --cases runs a subset; --new-args adds overrides to the NEW runs only, for a negative control
# (e.g. --new-args train.lr=0.0011 must fail every case). One line per case and rank count, then
# "N passed, M failed"; exit 1 on any difference or failed run. The runs stay in WORKDIR.
set -uo pipefail

cases_wanted="" new_args=""
while [ $# -gt 0 ]; do
  case $1 in
    --cases) cases_wanted=$2; shift 2 ;;
    --new-args) new_args=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
if [ $# -lt 2 ] || [ $# -gt 3 ]; then sed -n '8p' "$0" >&2; exit 2; fi
old=$(realpath "$1") new=$(realpath "$2")
work=$(realpath -m "${3:-${TMPDIR:-/tmp}/gsvae-same-behaviour}")
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${GSVAE_PYTHON:-/usr/bin/python3} # Debian's, with python3-h5py (launch/install.sh --test)
for bin in "$old" "$new"; do [ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }; done
"$python" -c 'import h5py' || { echo "$python has no h5py: run launch/install.sh --test" >&2; exit 2; }
# As launch/test.sh: Open MPI refuses root without these (containers, CI).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# NAME|OVERRIDES on top of configs/seed.yaml. Non-default values (gap, samples, tau.init) so
# that a key a refactor stopped passing through shows as a difference.
cases=(
  "seed|"
  "st|train.estimator=st"
  "st_softmax|train.estimator=st_softmax"
  "gst|train.estimator=gst train.estimator_gap=2"
  "grmck|train.estimator=grmck train.estimator_samples=4"
  "reinmax|train.estimator=reinmax"
  "sf_ema|train.estimator=sf train.estimator_samples=4 train.sf_baseline=ema train.sf_decay=0.9"
  "sf_loo|train.estimator=sf train.estimator_samples=4 train.sf_baseline=loo"
  "gs_tau_learn|tau.learn=true"
  "st_tau_learn|train.estimator=st tau.learn=true tau.init=0.5"
  "deterministic|train.deterministic=true" # the ordered chunk fold issue 17 merges into one
  "tau_exp|tau.schedule=exp tau.rate=0.005 tau.every=50 tau.min=0.5" # tau moves within 200 steps
  "dynamic|data.binarize=dynamic"
  "epoch_end|train.batch=300" # 200 x 300 = one epoch exactly: epoch row, test-set loss
  # the uneven case: 199 batches of 301 then one of 101 end the epoch at step 200; 3 chunks over
  # 2 ranks (2 + 1) or over 1 rank's 2 threads, and chunks of 101/100/100 and 34/34/33 rows
  "uneven|train.batch=301 train.deterministic=true train.reduce_chunks=3"
)
# Every case: 200 steps; run.dir relative (each run starts in its own directory), so the config
# text stored in run.h5 and the checkpoints is the same in both runs; a checkpoint every 95
# steps, so that besides the last (200) one cuts a log interval (95: its partial sums) and
# one does not (190); writing one changes nothing the steps compute (resume is bit-exact).
common=(train.max_steps=200 run.dir=run run.ckpt_every=95 run.resume=never)

run_one() { # run_one GSVAE RANKS DIR OVERRIDES... -> exit status of gsvae train
  local bin=$1 ranks=$2 dir=$3; shift 3
  rm -rf "$dir"; mkdir -p "$dir"
  local launcher=()
  [ "$ranks" -gt 1 ] && launcher=(mpirun -np "$ranks")
  (cd "$dir" && "${launcher[@]}" "$bin" train "$repo/configs/seed.yaml" "${common[@]}" "$@") >"$dir/log" 2>&1
}

passed=0 failed=0 self_tested=0
start=$SECONDS
for entry in "${cases[@]}"; do
  name=${entry%%|*} overrides=${entry#*|}
  if [ -n "$cases_wanted" ] && [[ ",$cases_wanted," != *",$name,"* ]]; then continue; fi
  for ranks in 1 2; do
    label="$name $ranks rank$([ "$ranks" -gt 1 ] && echo s)"
    dir=$work/$name/np$ranks
    # shellcheck disable=SC2086 # the overrides are words
    run_one "$old" "$ranks" "$dir/old" $overrides; old_rc=$?
    # shellcheck disable=SC2086
    run_one "$new" "$ranks" "$dir/new" $overrides $new_args; new_rc=$?
    if [ "$old_rc" -ne 0 ] || [ "$new_rc" -ne 0 ]; then
      echo "FAIL $label: exit $old_rc (OLD) / $new_rc (NEW); logs $dir/{old,new}/log"
      failed=$((failed + 1)); continue
    fi
    # Once per invocation, before trusting "same": the comparer finds one flipped bit in a copy
    # of a real run and ignores nothing but its exclusions.
    if [ "$self_tested" -eq 0 ]; then
      if ! "$python" "$repo/tests/same_behaviour.py" self-test "$dir/old/run" "$work/self-test"; then
        echo "FAIL comparer self-test"; failed=$((failed + 1))
      fi
      self_tested=1
    fi
    if diffs=$("$python" "$repo/tests/same_behaviour.py" compare "$dir/old/run" "$dir/new/run" --steps 200); then
      echo "same  $label"; passed=$((passed + 1))
    else
      # The first few differences on the line; the whole list beside the runs.
      echo "$diffs" >"$dir/diffs"
      count=$(wc -l <"$dir/diffs") more=""
      [ "$count" -gt 3 ] && more=" ... ($count in $dir/diffs)"
      echo "DIFF $label: $(head -3 "$dir/diffs" | paste -sd '|' - | sed 's/|/; /g')$more"
      failed=$((failed + 1))
    fi
  done
done
echo "$passed passed, $failed failed ($((SECONDS - start)) s; runs in $work)"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
