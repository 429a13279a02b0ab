#!/usr/bin/env bash
# The mutation check: deliberate, plausible mistakes (tests/mutation/*.sed, one a file: which source
# it edits, what the mistake is, and the sed rule) applied one at a time to a scratch copy of the
# tree, never to the working tree; each copy is built CPU-only and the CPU ctest suite run with
# --stop-on-failure. A mutant is caught when a test fails; the first to fail is recorded. A rule
# that no longer changes its file, or a mutant that does not build, is an error: the rule must be
# brought up to date with the source.
#
#   tests/mutation_check.sh [--report tests/reports/mutation.md] [tests/mutation/NN_name.sed ...]
#
# Slow (the whole suite for a mutant nothing catches; 30-90 min for all on 2 cores), so not in
# launch/test.sh. The scratch copy and its build directory (GSVAE_MUTATION_DIR, default
# /tmp/gsvae-mutation) are reused, so only what a mutant touches is rebuilt. Before the mutants the
# unmutated copy must pass (GSVAE_MUTATION_SKIP_BASELINE=1 skips that when it has just been shown).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
report="" mutants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --report) report=$2; shift 2 ;;
    -*) echo "mutation_check.sh: unknown option '$1' (see the top of this file)" >&2; exit 2 ;;
    *) mutants+=("$1"); shift ;;
  esac
done
[ ${#mutants[@]} -gt 0 ] || mutants=("$root"/tests/mutation/*.sed)
scratch=${GSVAE_MUTATION_DIR:-/tmp/gsvae-mutation}
tree=$scratch/tree build=$scratch/build
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# The working tree's files (tracked, and untracked ones git does not ignore), times kept so that
# the reused build directory rebuilds only what changed since the last run.
rm -rf "$tree" && mkdir -p "$tree" "$build"
(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 cp -p --parents -t "$tree") || exit 1
copied="$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD || echo ' (with uncommitted changes)')"

build_tree() {
  nice -n 10 cmake -S "$tree" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGSVAE_CUDA=OFF >/dev/null &&
    nice -n 10 cmake --build "$build" -j2 >"$scratch/build.log" 2>&1
}

# The suite in three parts, so that a mutant is caught soon: the unit tests (seconds), then the
# end-to-end tests that check the most (ranks, resume, training, PyTorch parity: minutes), then
# the rest; prints the first test that failed.
unit='config_unit|data_unit|runfile_h5|model_gradcheck|model_gumbel|model_float_mode|model_blas_rows|estimators_gradcheck|estimators_stats|estimators_parity_dump|estimators_parity_pytorch|layers_include_order'
strong='train_ranks_agree|ckpt_resume|analysis_cli|train_learns|model_parity_pytorch'
run_suite() {
  local log=$scratch/ctest.log
  for selection in "-R ^($unit)\$" "-R ^($strong)\$" "-E ^($unit|$strong)\$|^gpu_"; do
    # shellcheck disable=SC2086 # the selection is two words
    nice -n 10 ctest --test-dir "$build" $selection --no-tests=error --stop-on-failure --output-on-failure >"$log" 2>&1
    if [ $? -ne 0 ]; then
      local failed; failed=$(sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (.*)$/\1/p' "$log" | head -1)
      echo "${failed:-ctest failed without naming a test (see $log)}"
      return 1
    fi
  done
  return 0
}

if [ "${GSVAE_MUTATION_SKIP_BASELINE:-0}" != 1 ]; then
  echo "== unmutated tree"
  build_tree || { echo "the unmutated tree does not build: $scratch/build.log" >&2; exit 1; }
  if failed=$(run_suite); then echo "   passes"; else echo "the unmutated tree fails $failed: fix that first" >&2; exit 1; fi
fi

lines=("| mutant | source | the mistake | caught by | seconds |" "|---|---|---|---|---|")
problems=0
for mutant in "${mutants[@]}"; do
  name=$(basename "$mutant" .sed)
  file=$(sed -n 's/^# file: //p' "$mutant") what=$(sed -n 's/^# what: //p' "$mutant")
  start=$(date +%s)
  echo "== $name: $what"
  cp "$root/$file" "$tree/$file" # a fresh time: the build recompiles it
  sed -i -f "$mutant" "$tree/$file"
  if cmp -s "$root/$file" "$tree/$file"; then
    caught="**rule does not apply**"; problems=$((problems + 1))
  elif ! build_tree; then
    caught="**does not build** ($scratch/build.log)"; problems=$((problems + 1))
  elif failed=$(run_suite); then
    caught="**NOT CAUGHT**"; problems=$((problems + 1))
  else
    caught="\`$failed\`"
  fi
  cp "$root/$file" "$tree/$file" # unmutated again, with a fresh time
  echo "   $caught"
  lines+=("| $name | \`$file\` | $what | $caught | $(( $(date +%s) - start )) |")
done
build_tree >/dev/null 2>&1 # leave the scratch build unmutated for the next run

if [ -n "$report" ]; then
  {
    echo "# The mutation check"
    echo
    echo "\`tests/mutation_check.sh --report $report\` on $(date -u +%Y-%m-%d), the tree of commit $copied:" \
      "each mistake applied alone to a scratch copy, built CPU-only, the CPU suite run with \`--stop-on-failure\`" \
      "(unit tests first, then the strongest end-to-end ones); the first test to fail is named."
    echo
    printf '%s\n' "${lines[@]}"
  } >"$report"
fi
printf '%s\n' "${lines[@]}"
[ "$problems" -eq 0 ] && echo "mutation check: every mutant caught" || echo "mutation check: $problems mutant(s) not caught or not applied"
exit $((problems > 0))
