#!/usr/bin/env bash
# Wall time of one mixed-estimator grid, configs/sweep_estimators.yaml (21 points: 7 estimators
# x 3 temperatures; sf decodes 10 samples, about 3.5 times a gs step), trained by G groups of one
# rank with the sweep file's `handout: static` (group g trains points g, g + G, ... in grid order)
# against `handout: dynamic` (the default: a group that frees up takes the next point, longest
# expected first). Repetitions interleaved; medians and their ratio. Beside them, the ideal: the
# sum of the points' own training times ("gsvae: done in X s") over G, and wall / ideal.
# `bench/sweep/bench_handout.sh OUT.md [REPS [GROUPS [key=value ...]]]` (3 repetitions, 2 groups);
# writes and prints the table. Trains on the first 2000/500 images of Fashion-MNIST (made here).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$1 reps=${2:-3} groups=${3:-2}
shift $(( $# < 3 ? $# : 3 ))
gsvae=build/gsvae
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 tests/make_small_dataset.py "$work/data" 2000 500
for handout in static dynamic; do  # the shipped grid, its base found from here, and the hand-out
  sed "s|^base: |base: $PWD/configs/|" configs/sweep_estimators.yaml > "$work/$handout.yaml"
  echo "handout: $handout" >> "$work/$handout.yaml"
done
mpi=(mpirun -np "$groups")
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
declare -A walls ideals
start=$SECONDS load_before=$(cut -d' ' -f1 /proc/loadavg)
for ((rep = 0; rep < reps; rep++)); do
  for handout in static dynamic; do
    rm -rf "$work/run"
    began=$(date +%s.%N)
    log=$("${mpi[@]}" "$gsvae" sweep "$work/$handout.yaml" "data.dir=$work/data" run.dir="$work/run" \
      train.max_steps=20 run.log_every=20 "$@")
    ended=$(date +%s.%N)
    walls[$handout]+="$(awk -v a="$began" -v b="$ended" 'BEGIN {printf "%.1f ", b - a}')"
    ideals[$handout]+="$(grep -oE 'done in [0-9.]+ s' <<<"$log" | awk -v g="$groups" '{s += $3} END {printf "%.1f ", s / g}')"
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {printf "%.2f", NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# wall / ideal per repetition: the share of the wall time not spent training, steadier than the
# wall time itself on a loaded machine (both grow with the load alike)
over() { paste -d' ' <(tr ' ' '\n' <<<"$1" | grep .) <(tr ' ' '\n' <<<"$2" | grep .) | awk '{printf "%.2f ", $1 / $2}'; }
declare -A overs
for handout in static dynamic; do overs[$handout]=$(over "${walls[$handout]}" "${ideals[$handout]}"); done
static=$(median "${walls[static]}") dynamic=$(median "${walls[dynamic]}")
static_over=$(median "${overs[static]}") dynamic_over=$(median "${overs[dynamic]}")
{
  echo "# Static against dynamic hand-out of a mixed-estimator sweep"
  echo
  echo "\`bench/sweep/bench_handout.sh $out $reps $groups $*\` on $(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'),"
  echo "$(nproc) cores, $((SECONDS - start)) s: configs/sweep_estimators.yaml (21 points) on $groups groups of one rank,"
  echo "20 steps (one epoch) of batch 100 a point on 2000 Fashion-MNIST images, $reps interleaved repetitions. Ideal: the"
  echo "points' own training times summed over the groups (start-up and data loading excluded). Load average"
  echo "(the machine is shared) $load_before before, $(cut -d' ' -f1 /proc/loadavg) after."
  echo
  echo "| hand-out | wall s (each) | median | × static | ideal s (each) | wall ÷ ideal (each) | median |"
  echo "|---|---|---:|---:|---|---|---:|"
  echo "| static | ${walls[static]}| $static | 1.00 | ${ideals[static]}| ${overs[static]}| $static_over |"
  echo "| dynamic | ${walls[dynamic]}| $dynamic | $(awk -v d="$dynamic" -v s="$static" 'BEGIN {printf "%.2f", d / s}') |" \
       "${ideals[dynamic]}| ${overs[dynamic]}| $dynamic_over |"
} > "$out"
cat "$out"
