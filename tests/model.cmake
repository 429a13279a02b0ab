# The model's math: gradient check (the double build of model_math.c), Gumbel sampling, and parity
# with the PyTorch reference (tests/reference_model.py) on the seed's layout.
add_executable(model_gradcheck ${CMAKE_CURRENT_SOURCE_DIR}/model_gradcheck.c ${GSVAE_MODEL_F64_SOURCES})
target_compile_definitions(model_gradcheck PRIVATE GSVAE_REAL_DOUBLE)
target_link_libraries(model_gradcheck PRIVATE gsvae_lib gsvae_openblas)
add_test(NAME model_gradcheck COMMAND model_gradcheck)
gsvae_timeout(30 model_gradcheck) # measured 0.1 s

add_executable(model_gumbel ${CMAKE_CURRENT_SOURCE_DIR}/model_gumbel.c)
target_link_libraries(model_gumbel PRIVATE gsvae_lib)
add_test(NAME model_gumbel COMMAND model_gumbel)
gsvae_timeout(30 model_gumbel) # measured 2 s

# SLEEF's exp and log (src/cpu/vector_math.h): the same bits from every part, within 1 ulp.
add_executable(vector_math_test ${CMAKE_CURRENT_SOURCE_DIR}/vector_math_test.c)
target_link_libraries(vector_math_test PRIVATE gsvae_lib m)
add_test(NAME model_vector_math COMMAND vector_math_test)
gsvae_timeout(30 model_vector_math) # measured 3.3 s

# Step by step from the same state: parity_check.py runs parity_step for each of 20 steps of each case.
add_executable(parity_step ${CMAKE_CURRENT_SOURCE_DIR}/parity_step.c ${CMAKE_CURRENT_SOURCE_DIR}/synthetic_images.c)
target_link_libraries(parity_step PRIVATE gsvae_lib)
add_test(NAME model_parity_pytorch
         COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/parity_check.py $<TARGET_FILE:parity_step>
                 ${CMAKE_CURRENT_BINARY_DIR}/parity)
gsvae_timeout(450 model_parity_pytorch) # measured 84 s
# A free-running 20-step trajectory only where it is well conditioned: the model code in double
# against PyTorch in float64.
add_executable(parity_trajectory ${CMAKE_CURRENT_SOURCE_DIR}/parity_trajectory.c
               ${CMAKE_CURRENT_SOURCE_DIR}/synthetic_images.c ${GSVAE_MODEL_F64_SOURCES})
target_compile_definitions(parity_trajectory PRIVATE GSVAE_REAL_DOUBLE)
target_link_libraries(parity_trajectory PRIVATE gsvae_lib gsvae_openblas)
add_test(NAME model_parity_trajectory
         COMMAND sh -c "\"$1\" \"$3\" && \"$2\" \"$4\" \"$3\"" parity_trajectory $<TARGET_FILE:parity_trajectory>
                 ${GSVAE_PYTHON} ${CMAKE_CURRENT_BINARY_DIR}/parity_trajectory.h5
                 ${CMAKE_CURRENT_SOURCE_DIR}/parity_trajectory.py)
gsvae_timeout(120 model_parity_trajectory) # measured 21 s

# Flush-to-zero in the BLAS library's worker threads (src/cpu/float_mode.c).
add_executable(float_mode_test ${CMAKE_CURRENT_SOURCE_DIR}/float_mode_test.c)
target_link_libraries(float_mode_test PRIVATE gsvae_lib)
add_test(NAME model_float_mode COMMAND float_mode_test)
gsvae_timeout(30 model_float_mode) # measured 0.03 s

# The BLAS properties the deterministic reduction rests on (tests/cpu_matrix.sh runs it on
# every kernel set the CPU can execute).
add_executable(blas_rows ${CMAKE_CURRENT_SOURCE_DIR}/blas_rows.c)
target_link_libraries(blas_rows PRIVATE gsvae_lib)
add_test(NAME model_blas_rows COMMAND blas_rows)
gsvae_timeout(30 model_blas_rows) # measured 1.2 s
# device.precision=bf16 on the CPU: the rounding rule everywhere; the products' error bounds and a
# step against fp32 where the build and CPU have bf16 products (skipped elsewhere, saying why).
add_executable(bf16_check ${CMAKE_CURRENT_SOURCE_DIR}/bf16_check.c ${CMAKE_CURRENT_SOURCE_DIR}/synthetic_images.c)
target_link_libraries(bf16_check PRIVATE gsvae_lib m)
add_test(NAME model_bf16_rounding COMMAND bf16_check rounding)
add_test(NAME model_bf16_products COMMAND bf16_check products)
add_test(NAME model_bf16_step COMMAND bf16_check step)
set_tests_properties(model_bf16_products model_bf16_step PROPERTIES SKIP_RETURN_CODE 77)
gsvae_timeout(30 model_bf16_rounding model_bf16_products model_bf16_step)
