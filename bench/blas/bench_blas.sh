#!/usr/bin/env bash
# The seed step's matrix products through each well-kept BLAS Debian ships: OpenBLAS (its own pick
# of kernels, and its Haswell and SkylakeX sets where the CPU runs them), BLIS and oneDNN; 1 and 2
# threads, best of 5 x 100 steps each (bench/blas/bench_blas.c, compiled by build_benches.sh); and
# device.precision=bf16's products (oneDNN matmul on bf16 operands) where the CPU has AVX512_BF16
# or AMX. `bench/blas/bench_blas.sh [DIR]` prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
# DIR: binaries build_benches.sh has already compiled there; else they are compiled for this run
if [ $# -ge 1 ]; then
  work=$1
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  bench/blas/build_benches.sh "$work"
fi
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores"
echo
echo "| library | 1 thread ms | 2 threads ms |"
echo "|---|---:|---:|"
row() { # row LABEL COMMAND...: one table row, 1 and 2 threads
  local label=$1; shift
  local one two
  one=$(OMP_NUM_THREADS=1 "$@" 1 | grep -oE '[0-9.]+ ms' | cut -d' ' -f1)
  two=$(OMP_NUM_THREADS=2 "$@" 2 | grep -oE '[0-9.]+ ms' | cut -d' ' -f1)
  echo "| $label | $one | $two |"
}
own=$(env -u OPENBLAS_CORETYPE OPENBLAS_VERBOSE=2 "$work/openblas" 1 2>&1 | sed -n 's/^Core: //p')
row "OpenBLAS $(dpkg-query -W -f='${Version}' libopenblas0-pthread), its own pick ($own)" env -u OPENBLAS_CORETYPE "$work/openblas"
[[ "$flags" == *" avx2 "* ]] && row "OpenBLAS, Haswell kernels (AVX2)" env OPENBLAS_CORETYPE=Haswell "$work/openblas"
[[ "$flags" == *" avx512f "* ]] && row "OpenBLAS, SkylakeX kernels (AVX-512)" env OPENBLAS_CORETYPE=SkylakeX "$work/openblas"
row "BLIS $(dpkg-query -W -f='${Version}' libblis4 2>/dev/null || true) ($(readlink -f /usr/lib/x86_64-linux-gnu/libblis.so.4 | grep -q openmp && echo OpenMP || echo pthreads))" "$work/blis"
row "oneDNN $(dpkg-query -W -f='${Version}' libdnnl2 2>/dev/null || true) (OpenMP)" "$work/onednn"
# device.precision=bf16's products, where the CPU has bf16 instructions (oneDNN emulates them, slowly, elsewhere)
if [[ "$flags" == *" avx512_bf16 "* || "$flags" == *" amx_bf16 "* ]]; then
  kernel=$(ONEDNN_VERBOSE=1 OMP_NUM_THREADS=1 "$work/onednn_bf16" 1 | grep -oE 'brg:[a-z0-9_]+' | sort -u | tr '\n' ' ')
  row "oneDNN, bf16 operands (matmul: ${kernel% })" "$work/onednn_bf16"
fi
