#!/usr/bin/env bash
# The test suite again in a second build under AddressSanitizer and UndefinedBehaviorSanitizer
# (clang), plus bounded libFuzzer runs (tests/fuzz.cmake) of the IDX, config and checkpoint parsers.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${GSVAE_SANITIZE_BUILD_DIR:-build-sanitize}
CC=clang cmake -S . -B "$build" -DGSVAE_CUDA=OFF -DGSVAE_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
cmake --build "$build" -j"$(nproc)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Leak checks only in the fuzzers (tests/fuzz.cmake turns them on): in gsvae processes Open MPI's
# plugins keep memory until exit by design, and LeakSanitizer's exit-time scan crashes beside
# OpenBLAS's threads. Memory errors and undefined behaviour stop every test.
export ASAN_OPTIONS="detect_leaks=0"
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz_lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir "$build" --no-tests=error --output-on-failure -j"${GSVAE_TEST_JOBS:-1}" "$@"
