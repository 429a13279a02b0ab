#!/usr/bin/env bash
# Runs the numerical tests (gradient checks, Gumbel and estimator statistics, float mode, BLAS row
# properties, PyTorch parity, rank agreement, resume) under the code paths users' CPUs take: each
# kernel set of the build's BLAS library that this CPU can execute (OpenBLAS: OPENBLAS_CORETYPE;
# oneDNN: ONEDNN_MAX_CPU_ISA; auto: unset, the library's own pick), glibc's maths with its AVX-512
# and FMA variants hidden or not (GLIBC_TUNABLES), and 1 or 2 BLAS threads.
#
#   tests/cpu_matrix.sh [--kernels auto,avx2,avx512,...] [--full] [--report tests/reports/cpu_matrix.md]
#
# --kernels takes the library's names (OpenBLAS: Haswell, SkylakeX, ...; oneDNN: AVX2, AVX512_CORE,
# ...), or avx2 and avx512 for its AVX2 and AVX-512 sets. By default every kernel set runs once, and
# the glibc and thread variants rotate over them so that each appears; --full runs every
# combination. Needs a build (launch/build.sh; GSVAE_BUILD_DIR names another).
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
library=$(sed -n 's/^GSVAE_BLAS:STRING=//p' "$build/CMakeCache.txt")
# Each library's kernel sets, the variable that picks one, and what each needs of the CPU
# (OpenBLAS's kernel/x86_64 sources; oneDNN's cpu_isa_traits). OpenBLAS's AMD pre-Zen sets use
# FMA4/XOP, which Intel CPUs lack, and are left out; oneDNN's sets above AVX512_CORE (VNNI, BF16,
# AMX) add no float32 GEMM kernels.
if [ "$library" = onednn ]; then
  variable=ONEDNN_MAX_CPU_ISA all="auto SSE41 AVX AVX2 AVX512_CORE" avx2=AVX2 avx512=AVX512_CORE
else
  variable=OPENBLAS_CORETYPE all="auto Prescott Nehalem Sandybridge Haswell Zen SkylakeX Cooperlake" avx2=Haswell avx512=SkylakeX
fi
can_run() {
  case "$1" in
    auto) return 0 ;;
    Prescott) has pni ;; # /proc/cpuinfo's name for SSE3
    SSE41) has sse4_1 ;;
    Nehalem) has sse4_2 ;;
    Sandybridge|AVX) has avx ;;
    Haswell|Zen|AVX2) has avx2 fma ;;
    SkylakeX|AVX512_CORE) has avx512f avx512bw avx512dq avx512vl ;;
    Cooperlake) has avx512f avx512bw avx512dq avx512vl avx512_bf16 ;;
    *) return 1 ;;
  esac
}
# The kernel set the library runs on (`gsvae info`) with $variable set to $1, or unset for auto.
kernels_for() {
  local set=(env "$variable=$1"); [ "$1" = auto ] && set=(env -u "$variable")
  "${set[@]}" "$build/gsvae" info 2>/dev/null | sed -n 's/^  BLAS .*, kernels //p'
}
# Whether the library has the kernel set: it names it (oneDNN in lower case, after cpu_isa_).
library_has() {
  local got; got=$(kernels_for "$1")
  [ "$1" = auto ] || [ "$got" = "$1" ] || [ "$got" = "cpu_isa_${1,,}" ]
}

# A changed `gsvae info` line would make every set look absent: fail rather than run nothing.
if [ -z "$(kernels_for auto)" ]; then
  echo "cpu_matrix.sh: cannot read the kernel set from '$build/gsvae info' (its '  BLAS ..., kernels X' line)" >&2
  exit 1
fi
[ -n "$kernels" ] || kernels=$all
kernels=${kernels//avx512/$avx512} && kernels=${kernels//avx2/$avx2}
run_list=() skipped=()
for kernel in $kernels; do
  if ! can_run "$kernel"; then skipped+=("$kernel (this CPU lacks its instructions, or $library has no such set)"); continue; fi
  if ! library_has "$kernel"; then skipped+=("$kernel (not in this $library)"); continue; fi
  run_list+=("$kernel")
done
if [ ${#run_list[@]} -eq 0 ]; then
  echo "cpu_matrix.sh: no kernel set of '$kernels' can run here: ${skipped[*]}" >&2
  exit 1
fi
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
blas=$(env -u "$variable" "$build/gsvae" info 2>/dev/null | sed -n 's/^  BLAS *//p')
own=$(kernels_for auto)
lines=("| $variable | glibc maths | BLAS threads | tests | result | seconds |" "|---|---|---|---|---|---|")
failed=0
for variant in "${variants[@]}"; do
  read -r kernel glibc threads <<<"$variant"
  tunables=""; [ "$glibc" = hidden ] && tunables=$glibc_hidden
  pick=(env "$variable=$kernel"); [ "$kernel" = auto ] && pick=(env -u "$variable")
  echo "== $variable=$kernel GLIBC_TUNABLES=${tunables:-(unset)} BLAS threads $threads"
  start=$(date +%s)
  log=$(mktemp)
  # OpenBLAS reads OPENBLAS_NUM_THREADS, oneDNN's OpenMP OMP_NUM_THREADS
  "${pick[@]}" GLIBC_TUNABLES="$tunables" OPENBLAS_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads" \
    ctest --test-dir "$build" -R "$tests" --no-tests=error --output-on-failure >"$log" 2>&1
  status=$?
  summary=$(grep -E "tests passed|tests failed" "$log" | tail -1)
  cat "$log" | grep -E "Test +#|FAILED|passed|failed out" ; rm -f "$log"
  result=$([ "$status" -eq 0 ] && echo pass || echo "**FAIL**")
  [ "$status" -eq 0 ] || failed=$((failed + 1))
  lines+=("| $([ "$kernel" = auto ] && echo "unset ($library picks $own)" || echo "$kernel") | $([ "$glibc" = hidden ] && echo "AVX-512, AVX2, FMA hidden" || echo default) | $threads | $summary | $result | $(( $(date +%s) - start )) |")
done
if [ -n "$report" ]; then
  {
    echo "# The numerical tests on every CPU path"
    echo
    echo "\`$([ "$build" != build ] && echo "GSVAE_BUILD_DIR=$build ")tests/cpu_matrix.sh$([ "$full" -eq 1 ] && echo " --full") --report $report\` on $(date -u +%Y-%m-%d), CPU: $cpu"
    echo "($(nproc) cores; BLAS: $blas, its own pick when $variable is unset)."
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
