#!/usr/bin/env bash
# Runs the numerical tests (gradient checks, Gumbel and estimator statistics, float mode, BLAS row
# properties, PyTorch parity, rank agreement, resume) under the code paths users' CPUs take: each
# OpenBLAS kernel set of the installed OpenBLAS that this CPU can execute (OPENBLAS_CORETYPE; auto:
# unset, OpenBLAS's own pick), glibc's maths with its AVX-512 and FMA variants hidden or not
# (GLIBC_TUNABLES), and 1 or 2 BLAS threads.
#
#   launch/cpu_matrix.sh [--kernels auto,Haswell,SkylakeX] [--full] [--report results/cpu_matrix.md]
#
# By default every kernel set runs once, and the glibc and thread variants rotate over them so
# that each appears; --full runs every combination. Needs a build (launch/build.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${GSVAE_BUILD_DIR:-build}
kernels="" full=0 report=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kernels) kernels=${2//,/ }; shift 2 ;;
    --full) full=1; shift ;;
    --report) report=$2; shift 2 ;;
    *) echo "cpu_matrix.sh: unknown argument '$1' (see the top of this file)" >&2; exit 2 ;;
  esac
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tests='^(model_.*|estimators_.*|train_make_small_dataset|train_ranks_agree|ckpt_resume)$'
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() { for f in "$@"; do [[ "$flags" == *" $f "* ]] || return 1; done; }
# What each kernel set needs of the CPU (OpenBLAS's kernel/x86_64 sources); AMD's pre-Zen sets use
# FMA4/XOP, which Intel CPUs lack, and are left out.
can_run() {
  case "$1" in
    auto) return 0 ;;
    Prescott) has pni ;; # /proc/cpuinfo's name for SSE3
    Nehalem) has sse4_2 ;;
    Sandybridge) has avx ;;
    Haswell|Zen) has avx2 fma ;;
    SkylakeX) has avx512f avx512bw avx512dq avx512vl ;;
    Cooperlake) has avx512f avx512bw avx512dq avx512vl avx512_bf16 ;;
    *) return 1 ;;
  esac
}
# Whether this OpenBLAS has the kernel set: it names the one it loaded when asked to be verbose.
openblas_has() { [ "$1" = auto ] || [[ "$(OPENBLAS_VERBOSE=2 OPENBLAS_CORETYPE=$1 "$build/tests/float_mode_test" 2>&1)" == *"Core: $1"* ]]; }

all="auto Prescott Nehalem Sandybridge Haswell Zen SkylakeX Cooperlake"
[ -n "$kernels" ] || kernels=$all
run_list=() skipped=()
for kernel in $kernels; do
  if ! can_run "$kernel"; then skipped+=("$kernel (this CPU lacks its instructions)"); continue; fi
  if ! openblas_has "$kernel"; then skipped+=("$kernel (not in this OpenBLAS)"); continue; fi
  run_list+=("$kernel")
done
glibc_hidden="glibc.cpu.hwcaps=-AVX512F,-AVX512DQ,-AVX512BW,-AVX512VL,-AVX2,-FMA"
variants=() index=0
for kernel in "${run_list[@]}"; do
  if [ "$full" -eq 1 ]; then
    for glibc in default hidden; do for threads in 1 2; do variants+=("$kernel $glibc $threads"); done; done
  else
    glibc=$([ $((index % 2)) -eq 0 ] && echo default || echo hidden)
    threads=$(( (index / 2) % 2 + 1 ))
    variants+=("$kernel $glibc $threads")
  fi
  index=$((index + 1))
done

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
blas=$(env -u OPENBLAS_CORETYPE OPENBLAS_VERBOSE=2 "$build/tests/float_mode_test" 2>&1 | sed -n 's/^Core: //p')
lines=("| OPENBLAS_CORETYPE | glibc maths | BLAS threads | tests | result | seconds |" "|---|---|---|---|---|---|")
failed=0
for variant in "${variants[@]}"; do
  read -r kernel glibc threads <<<"$variant"
  tunables=""; [ "$glibc" = hidden ] && tunables=$glibc_hidden
  coretype=(env OPENBLAS_CORETYPE="$kernel"); [ "$kernel" = auto ] && coretype=(env -u OPENBLAS_CORETYPE)
  echo "== OPENBLAS_CORETYPE=$kernel GLIBC_TUNABLES=${tunables:-(unset)} OPENBLAS_NUM_THREADS=$threads"
  start=$(date +%s)
  log=$(mktemp)
  "${coretype[@]}" GLIBC_TUNABLES="$tunables" OPENBLAS_NUM_THREADS="$threads" \
    ctest --test-dir "$build" -R "$tests" --output-on-failure >"$log" 2>&1
  status=$?
  summary=$(grep -E "tests passed|tests failed" "$log" | tail -1)
  cat "$log" | grep -E "Test +#|FAILED|passed|failed out" ; rm -f "$log"
  result=$([ "$status" -eq 0 ] && echo pass || echo "**FAIL**")
  [ "$status" -eq 0 ] || failed=$((failed + 1))
  lines+=("| $([ "$kernel" = auto ] && echo "unset (OpenBLAS picks $blas)" || echo "$kernel") | $([ "$glibc" = hidden ] && echo "AVX-512, AVX2, FMA hidden" || echo default) | $threads | $summary | $result | $(( $(date +%s) - start )) |")
done
if [ -n "$report" ]; then
  {
    echo "# The numerical tests on every CPU path"
    echo
    echo "\`launch/cpu_matrix.sh$([ "$full" -eq 1 ] && echo " --full") --report $report\` on $(date -u +%Y-%m-%d), CPU: $cpu"
    echo "($(nproc) cores; OpenBLAS $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null), its own pick here: $blas)."
    echo "Tests: \`$tests\`."
    echo
    printf '%s\n' "${lines[@]}"
    echo
    echo "Not run here: ${skipped[*]:-none}."
  } >"$report"
fi
printf '%s\n' "${lines[@]}"
echo "not run: ${skipped[*]:-none}"
[ "$failed" -eq 0 ] && echo "cpu matrix: every path passed" || echo "cpu matrix: $failed path(s) FAILED"
exit $((failed > 0))
