#!/usr/bin/env bash
# device.precision=bf16 against fp32 on this CPU, in one run: the step's products alone through
# each library (bench/blas/bench_blas.sh, the bf16 row where the CPU has AVX512_BF16 or AMX), then
# whole epochs of the seed setup with the default build, fp32 and (on such CPUs) bf16, one process and 2 ranks,
# repetitions interleaved, medians and ratios to fp32 (bench/blas/bench_blas_epochs.py), and each
# run's step against the products floor timed just before and after it (its --floor). Writes
# bench/cpu/results/bf16_epochs_<N>_<cpu>.md, <cpu> from /proc/cpuinfo's model name,
# family and model. --avx2 runs the floors and gsvae on the libraries' AVX2 code alone, as a CPU
# without AVX-512 would (bench_blas_epochs.py's AVX2_PATHS), fp32 only, into ..._<cpu>_avx2.md: the
# second CPU family an AVX-512 machine can show.
#   bench/cpu/bench_bf16.sh [--epochs 3] [--reps 3] [--avx2]
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/cpu/epochs_setup.sh "$@"
avx2=0 suffix=""
for argument in "$@"; do if [ "$argument" = --avx2 ]; then avx2=1 suffix=_avx2; fi; done
out=bench/cpu/results/bf16_epochs_${epochs}_${cpu}${suffix}.md
benches=$(mktemp -d)
trap 'rm -rf "$benches"' EXIT
bench/blas/build_benches.sh "$benches"
if [ $avx2 = 1 ]; then # bench_blas.sh's table names each library's own pick: the floors below alone
  floors="The products floors are timed around every run below, on the AVX2 kernels alone."
else
  floors="First the step's products alone (\`bench/blas/bench_blas.sh\`, best of 5 x 100 steps):

$(bench/blas/bench_blas.sh "$benches")"
fi
# bf16 where gsvae takes it (src/cpu/blas_onednn.c: AVX512_BF16 or AMX); fp32 alone elsewhere
builds=(fp32=build/gsvae)
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
if [ $avx2 = 1 ]; then
  title="fp32 on the AVX2 paths alone"
elif [[ "$flags" == *" avx512_bf16 "* || "$flags" == *" amx_bf16 "* ]]; then
  builds+=(bf16=build/gsvae,device.precision=bf16)
  title="device.precision=bf16 against fp32"
else
  title="fp32 (this CPU has neither AVX512_BF16 nor AMX: no bf16 runs)"
fi
/usr/bin/python3 bench/blas/bench_blas_epochs.py "$out.epochs" "${builds[@]}" --command "bench/cpu/bench_bf16.sh $*" \
  --floor "$benches" "$@"
{
  echo "# $title: $epochs epoch(s) of the seed setup"
  echo
  echo "Command: \`bench/cpu/bench_bf16.sh $*\`. $floors"
  echo
  tail -n +2 "$out.epochs"
} >"$out"
rm -f "$out.epochs"
cat "$out"
