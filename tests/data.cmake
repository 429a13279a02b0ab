# Data module (IDX loading, validation, epoch order, binarization, parser fuzzing) and run.h5.
add_executable(data_test ${CMAKE_CURRENT_SOURCE_DIR}/data_test.c)
target_link_libraries(data_test PRIVATE gsvae_lib)
add_test(NAME data_unit COMMAND data_test ${CMAKE_CURRENT_BINARY_DIR})

add_executable(data_summary ${CMAKE_CURRENT_SOURCE_DIR}/data_summary.c)
target_link_libraries(data_summary PRIVATE gsvae_lib)
add_test(NAME data_fashion_mnist
         COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/data_fashion_mnist.py $<TARGET_FILE:data_summary>
                 /usr/share/datasets/fashion-mnist)
set_tests_properties(data_fashion_mnist PROPERTIES SKIP_RETURN_CODE 77)
gsvae_timeout(30 data_unit)          # measured 0.2 s
gsvae_timeout(90 data_fashion_mnist) # 13 s

add_executable(runfile_write ${CMAKE_CURRENT_SOURCE_DIR}/runfile_write.c)
target_link_libraries(runfile_write PRIVATE gsvae_lib)
add_test(NAME runfile_h5
         COMMAND sh -c "\"$1\" \"$3\" && \"$2\" \"$4\" \"$3\"" runfile_h5 $<TARGET_FILE:runfile_write> ${GSVAE_PYTHON}
                 ${CMAKE_CURRENT_BINARY_DIR}/runfile_test.h5 ${CMAKE_CURRENT_SOURCE_DIR}/runfile_check.py)
gsvae_timeout(30 runfile_h5) # measured 0.5 s
