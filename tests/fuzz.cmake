# Bounded libFuzzer runs (20 s each) of the IDX parser, the config parser and the checkpoint
# loader: only in the sanitized clang build (tests/test_sanitized.sh), which compiles the
# library with -fsanitize=fuzzer-no-link so the fuzzer sees its coverage.
if(GSVAE_SANITIZE AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  foreach(target idx config ckpt)
    add_executable(fuzz_${target} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_${target}.c)
    target_link_libraries(fuzz_${target} PRIVATE gsvae_lib)
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer)
    set(corpus ${CMAKE_CURRENT_BINARY_DIR}/fuzz_${target}_corpus)
    if(target STREQUAL "ckpt")
      set(corpus ${CMAKE_CURRENT_BINARY_DIR}/fuzz_ckpt_run/ckpt)
    endif()
    add_test(NAME fuzz_${target}
             COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0
                     LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/lsan_fuzz.supp:print_suppressions=0
                     $<TARGET_FILE:fuzz_${target}> -max_total_time=20 -rss_limit_mb=2048 -artifact_prefix=${CMAKE_CURRENT_BINARY_DIR}/fuzz_${target}_ ${corpus})
    set_tests_properties(fuzz_${target} PROPERTIES TIMEOUT 60) # -max_total_time=20 plus the start
    file(MAKE_DIRECTORY ${corpus})
  endforeach()
endif()
