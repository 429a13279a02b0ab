#!/usr/bin/env bash
# The test command: installs what the build and the tests need, builds, runs every test
# through ctest (unit, MPI, PyTorch parity, checkpoints and faults, analysis, end-to-end, bad
# input), the numerical ones again on AVX2 and AVX-512 BLAS kernels and on the OpenBLAS build
# (GSVAE_BLAS=openblas), then everything in a sanitized build with the fuzzers.
set -euo pipefail
cd "$(dirname "$0")/.."
launch/install.sh --test
launch/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir "${GSVAE_BUILD_DIR:-build}" --no-tests=error --output-on-failure -j"${GSVAE_TEST_JOBS:-1}" "$@"
# The numerical tests again on oneDNN's AVX2 kernels, whose K block is the smallest
# (src/core/chunks.h), and where the CPU has them its AVX-512 ones, whichever it picked above: a
# tolerance that holds on one kernel set only fails here.
tests/cpu_matrix.sh --kernels avx2,avx512
# The other library gsvae builds with (GSVAE_BLAS=openblas): built, and the numerical tests run on
# its own pick of kernels and again on its AVX2 and AVX-512 sets.
GSVAE_BUILD_DIR=build-openblas launch/build.sh -DGSVAE_BLAS=openblas
GSVAE_BUILD_DIR=build-openblas tests/cpu_matrix.sh --kernels auto,avx2,avx512
# The suite again under AddressSanitizer + UndefinedBehaviorSanitizer, and bounded fuzz runs.
tests/test_sanitized.sh "$@"
