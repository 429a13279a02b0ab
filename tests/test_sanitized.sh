#!/usr/bin/env bash
# The test suite again in a second build under AddressSanitizer and UndefinedBehaviorSanitizer
# (clang), plus bounded libFuzzer runs (tests/fuzz.cmake) of the IDX, config and checkpoint parsers.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${GSVAE_SANITIZE_BUILD_DIR:-build-sanitize}
# On OpenBLAS: the sanitizers see gsvae's code, not a library's, and oneDNN's JIT'd kernels and
# OpenMP runtime are uninstrumented either way; OpenBLAS lends no threads to the element-wise work,
# so its ranges run inline here (threads.h).
CC=clang cmake -S . -B "$build" -DGSVAE_CUDA=OFF -DGSVAE_SANITIZE=ON -DGSVAE_BLAS=openblas -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
cmake --build "$build" -j"$(nproc)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Leak checks in every test: the full unwinder, so that an allocation made inside glibc (asprintf)
# is traced to the library that called it, and Open MPI's plugins kept loaded so that their
# frames are named; tests/lsan.supp suppresses only Open MPI's own allocations. Memory errors,
# leaks and undefined behaviour fail every test.
export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
export OMPI_MCA_mca_base_component_disable_dlclose=1
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir "$build" --no-tests=error --output-on-failure -j"${GSVAE_TEST_JOBS:-1}" "$@"
