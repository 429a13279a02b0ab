# The model's math: gradient check (the double build of cpu_model.c), Gumbel sampling, and parity
# with the PyTorch reference (tests/reference_model.py) on the seed's layout.
add_executable(model_gradcheck ${CMAKE_CURRENT_SOURCE_DIR}/model_gradcheck.c ${CMAKE_SOURCE_DIR}/src/cpu_model.c
               ${CMAKE_SOURCE_DIR}/src/cpu_rows.c)
target_compile_definitions(model_gradcheck PRIVATE GSVAE_REAL_DOUBLE)
target_link_libraries(model_gradcheck PRIVATE gsvae_lib)
add_test(NAME model_gradcheck COMMAND model_gradcheck)

add_executable(model_gumbel ${CMAKE_CURRENT_SOURCE_DIR}/model_gumbel.c)
target_link_libraries(model_gumbel PRIVATE gsvae_lib)
add_test(NAME model_gumbel COMMAND model_gumbel)

add_executable(parity_dump ${CMAKE_CURRENT_SOURCE_DIR}/parity_dump.c)
target_link_libraries(parity_dump PRIVATE gsvae_lib)
add_test(NAME model_parity_dump COMMAND parity_dump ${CMAKE_CURRENT_BINARY_DIR}/parity.h5)
add_test(NAME model_parity_pytorch
         COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/parity_check.py ${CMAKE_CURRENT_BINARY_DIR}/parity.h5)
set_tests_properties(model_parity_dump PROPERTIES FIXTURES_SETUP model_parity)
set_tests_properties(model_parity_pytorch PROPERTIES FIXTURES_REQUIRED model_parity TIMEOUT 600)

# The OpenBLAS properties the deterministic reduction rests on, on both kernel paths it is run
# with (src/blas_kernels.c picks SkylakeX or Haswell on CPUs newer than Debian's OpenBLAS knows).
add_executable(blas_rows ${CMAKE_CURRENT_SOURCE_DIR}/blas_rows.c)
target_link_libraries(blas_rows PRIVATE gsvae_lib)
foreach(core Haswell SkylakeX)
  add_test(NAME model_blas_rows_${core} COMMAND blas_rows)
  set_tests_properties(model_blas_rows_${core} PROPERTIES ENVIRONMENT "OPENBLAS_CORETYPE=${core}")
endforeach()
