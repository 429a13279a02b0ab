# `gsvae info` on every build; with the CUDA backend built, the GPU tests (CPU vs GPU after one
# step and over 100 steps, graph replay vs eager, NCCL with one rank vs none), which exit 77
# (skipped, with the reason printed) when no GPU is visible.
add_test(NAME gpu_info COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/gpu_info.py ${GSVAE_BIN})
gsvae_timeout(30 gpu_info) # measured 1.5 s
# The GPU check's multi-rank script (tests/gpu_ranks_check.py) on CPU ranks, so that it is known to
# work before a GPU runs it: rank-count equality, resume, divergence, SIGUSR1.
add_test(NAME gpu_ranks_script_on_cpu
         COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/gpu_ranks_check.py ${GSVAE_BIN} ${GSVAE_MPIEXEC}
                 ${GSVAE_SMALL_DATA} ${CMAKE_CURRENT_BINARY_DIR}/gpu_ranks_script cpu)
set_tests_properties(gpu_ranks_script_on_cpu PROPERTIES FIXTURES_REQUIRED small_data)
gsvae_timeout(150 gpu_ranks_script_on_cpu) # measured 21 s
if(GSVAE_HAVE_CUDA)
  # The binary holds machine code for each architecture built for (no GPU needed).
  add_test(NAME gpu_arches COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/gpu_arches.py ${GSVAE_BIN}
                                   "${CMAKE_CUDA_ARCHITECTURES}")
  gsvae_timeout(30 gpu_arches) # measured 0.3 s
  if("${CMAKE_CUDA_ARCHITECTURES}" STREQUAL "${GSVAE_DEFAULT_CUDA_ARCHITECTURES}")
    set_tests_properties(gpu_arches PROPERTIES ENVIRONMENT GSVAE_DEFAULT_ARCHITECTURES=1)
  endif()
  add_executable(gpu_test ${CMAKE_CURRENT_SOURCE_DIR}/gpu_test.c)
  target_link_libraries(gpu_test PRIVATE gsvae_lib)
  foreach(mode one_step hundred_steps graphs nccl)
    add_test(NAME gpu_${mode} COMMAND gpu_test ${mode})
    set_tests_properties(gpu_${mode} PROPERTIES SKIP_RETURN_CODE 77)
  endforeach()
  # measured on an H100 (tests/reports/gpu_check_h100.md): one_step 8 s, hundred_steps 151 s,
  # graphs 1 s, nccl 5 s
  gsvae_timeout(60 gpu_one_step gpu_graphs gpu_nccl)
  gsvae_timeout(600 gpu_hundred_steps)
endif()
