#!/usr/bin/env bash
# The first command on a fresh Debian/Ubuntu machine: installs what gsvae needs, builds it,
# and trains the seed's setup on Fashion-MNIST (Debian's dataset-fashion-mnist) into
# results/seed/run.h5 (one process on every core; GSVAE_RANKS=N for N MPI ranks). Extra
# arguments are config overrides.
set -euo pipefail
cd "$(dirname "$0")/.."
launch/install.sh
launch/build.sh
ranks=${GSVAE_RANKS:-1}
# One rank runs without mpirun, which would bind it to a single core; OpenBLAS then uses them all.
[ "$ranks" -eq 1 ] && exec build/gsvae train configs/seed.yaml run.dir=results/seed "$@"
root_flags=""; [ "$(id -u)" -eq 0 ] && root_flags="--allow-run-as-root"
exec mpirun $root_flags -np "$ranks" build/gsvae train configs/seed.yaml run.dir=results/seed "$@"
