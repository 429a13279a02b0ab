#!/usr/bin/env bash
# Compiles bench/blas/bench_blas.c once per well-kept BLAS library Debian ships, into DIR:
# DIR/openblas, DIR/blis, DIR/onednn and DIR/onednn_bf16 (each `BINARY THREADS` prints its time for
# the step's products). Installs libopenblas-dev, libblis-dev and libdnnl-dev when missing. Used by
# bench_blas.sh's table and by bench_blas_epochs.py's --floor.
#   bench/blas/build_benches.sh DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: bench/blas/build_benches.sh DIR}
missing=""
for p in libopenblas-dev libblis-dev libdnnl-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
mkdir -p "$out"
cc -O2 -DBENCH_OPENBLAS bench/blas/bench_blas.c -o "$out/openblas" -I/usr/include/x86_64-linux-gnu/openblas-pthread -lopenblas
cc -O2 -DBENCH_BLIS bench/blas/bench_blas.c -o "$out/blis" -I/usr/include/x86_64-linux-gnu -lblis
cc -O2 -DBENCH_ONEDNN bench/blas/bench_blas.c -o "$out/onednn" -ldnnl
cc -O2 -DBENCH_ONEDNN_BF16 bench/blas/bench_blas.c -o "$out/onednn_bf16" -ldnnl
