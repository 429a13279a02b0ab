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

# Step by step from the same state: parity_check.py runs parity_step for each of 20 steps of each case.
add_executable(parity_step ${CMAKE_CURRENT_SOURCE_DIR}/parity_step.c)
target_link_libraries(parity_step PRIVATE gsvae_lib)
add_test(NAME model_parity_pytorch
         COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/parity_check.py $<TARGET_FILE:parity_step>
                 ${CMAKE_CURRENT_BINARY_DIR}/parity)
set_tests_properties(model_parity_pytorch PROPERTIES TIMEOUT 900)

# Flush-to-zero in OpenBLAS's worker threads (src/float_mode.c).
add_executable(float_mode_test ${CMAKE_CURRENT_SOURCE_DIR}/float_mode_test.c)
target_link_libraries(float_mode_test PRIVATE gsvae_lib)
add_test(NAME model_float_mode COMMAND float_mode_test)
