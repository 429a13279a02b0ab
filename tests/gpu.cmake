# `gsvae info` on every build; with the CUDA backend built, the GPU tests (CPU vs GPU after one
# step and over 100 steps, graph replay vs eager, NCCL with one rank vs none), which exit 77
# (skipped, with the reason printed) when no GPU is visible.
add_test(NAME gpu_info COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/gpu_info.py ${GSVAE_BIN})
gsvae_timeout(30 gpu_info) # measured 1.5 s
if(GSVAE_HAVE_CUDA)
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
