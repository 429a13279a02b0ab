#!/usr/bin/env bash
# The test command: installs what the build and the tests need, builds, runs every test
# through ctest (unit, MPI, PyTorch parity, checkpoints and faults, analysis, end-to-end, bad
# input), the numerical ones again on AVX2 and AVX-512 BLAS kernels and on the oneDNN build
# (GSVAE_BLAS=onednn), then everything in a sanitized build with the fuzzers.
set -euo pipefail
cd "$(dirname "$0")/.."
launch/install.sh --test
launch/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir "${GSVAE_BUILD_DIR:-build}" --no-tests=error --output-on-failure -j"${GSVAE_TEST_JOBS:-1}" "$@"
# The numerical tests again on an AVX2 and, where the CPU has it, an AVX-512 OpenBLAS kernel set,
# whichever OpenBLAS picked above: a tolerance that holds on one kernel only fails here.
tests/cpu_matrix.sh --kernels avx2,avx512
# The other library gsvae builds with (GSVAE_BLAS=onednn): built, and the numerical tests run on its
# own pick of kernels and again on its AVX2 ones, whose K block is the smallest (src/core/chunks.h).
GSVAE_BUILD_DIR=build-onednn launch/build.sh -DGSVAE_BLAS=onednn
GSVAE_BUILD_DIR=build-onednn tests/cpu_matrix.sh --kernels auto,avx2
# The suite again under AddressSanitizer + UndefinedBehaviorSanitizer, and bounded fuzz runs.
tests/test_sanitized.sh "$@"
