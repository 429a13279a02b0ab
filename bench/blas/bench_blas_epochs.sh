#!/usr/bin/env bash
# Whole epochs and runs of the seed setup with gsvae built on each BLAS library: builds
# GSVAE_BLAS=openblas into build-openblas/ and GSVAE_BLAS=onednn into build-onednn/, then runs
# bench/blas/bench_blas_epochs.py (one process and 2 ranks, interleaved, medians and ratios to
# OpenBLAS). `--epochs N --reps R` (3 and 3), `--busy B` (0: B busy loops beside each run); writes
# bench/blas/results/blas_epochs_<N>.md, or bench/blas/results/blas_epochs_<N>_busy<B>.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
launch/install.sh --test
for blas in openblas onednn; do
  GSVAE_BUILD_DIR=build-$blas launch/build.sh -DGSVAE_BLAS=$blas >/dev/null
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
epochs=3 busy=""
for ((i = 1; i <= $#; i++)); do
  next=$((i + 1))
  [ "${!i}" = --epochs ] && epochs=${!next}
  [ "${!i}" = --busy ] && [ "${!next}" != 0 ] && busy=_busy${!next}
done
/usr/bin/python3 bench/blas/bench_blas_epochs.py "bench/blas/results/blas_epochs_${epochs}${busy}.md" \
  OpenBLAS=build-openblas/gsvae oneDNN=build-onednn/gsvae "$@"
