#!/usr/bin/env bash
# The model's transcendental loops (src/cpu/exp_log_rows.c, SLEEF's exp and log) against the same
# loops at another commit, on one thread (bench/cpu/bench_exp_log.c says what is timed). The default
# other commit, c5cbf5e, is the last with glibc's scalar expf/logf and libmvec in those loops.
#
#   bench/cpu/bench_exp_log.sh [REPS [COMMIT]]     e.g. bench/cpu/bench_exp_log.sh 11 c5cbf5e
set -euo pipefail
cd "$(dirname "$0")/../.."
reps=${1:-11} commit=${2:-c5cbf5e}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(-O3 -fno-math-errno -fopenmp-simd -Isrc)
# The other version's file and its headers, as they were at that commit (it has its own includes).
mkdir -p "$work/other/cpu"
for file in $(git ls-tree --name-only "$commit" src/cpu/ | grep -E '(rows|libmvec|vector_math|model_math)[a-z_]*\.[ch]$'); do
  git show "$commit:$file" >"$work/other/cpu/$(basename "$file")"
done
other_rows=$(ls "$work"/other/cpu/*rows.c | grep -v noise_rows | head -1)
other_flags=(-I"$work/other") # before -Isrc: its own headers first
grep -q GSVAE_LIBMVEC "$work"/other/cpu/*.h 2>/dev/null && other_flags+=(-DGSVAE_LIBMVEC=1)
gcc "${other_flags[@]}" "${flags[@]}" -c "$other_rows" -o "$work/other.o"
objcopy --redefine-sym cpu_bce_row=other_bce_row \
  --redefine-sym gsvae_gumbel_from_uniform=other_gumbel_from_uniform "$work/other.o"
gcc "${flags[@]}" -c src/cpu/exp_log_rows.c -o "$work/this.o"
gcc "${flags[@]}" -c src/cpu/vector_math.c -o "$work/vector_math.o"
gcc "${flags[@]}" -mavx -c src/cpu/vector_math_avx.c -o "$work/vector_math_avx.o"
gcc "${flags[@]}" bench/cpu/bench_exp_log.c "$work"/*.o -o "$work/bench" -lsleef -lmvec -lm
echo "Command: \`bench/cpu/bench_exp_log.sh $reps $commit\`, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
echo "medians of $reps interleaved repetitions, one thread; other version: $commit ($(git log -1 --format=%s "$commit"))"
echo
"$work/bench" "$reps"
