# The estimator suite: parity of each estimator with PyTorch (tests/estimators_reference.py, written
# from the papers; ReinMax from the reinmax package), gradient checks of the score-function surrogate
# and of tau.learn, statistics against the exact gradient on an enumerable latent space, and the
# `gsvae estimators` command.
add_executable(estimators_dump ${CMAKE_CURRENT_SOURCE_DIR}/estimators_dump.c)
target_link_libraries(estimators_dump PRIVATE gsvae_lib)
add_test(NAME estimators_parity_dump COMMAND estimators_dump ${CMAKE_CURRENT_BINARY_DIR}/estimators_parity.h5)
add_test(NAME estimators_parity_pytorch
         COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/estimators_parity.py
                 ${CMAKE_CURRENT_BINARY_DIR}/estimators_parity.h5)
set_tests_properties(estimators_parity_dump PROPERTIES FIXTURES_SETUP estimators_parity)
set_tests_properties(estimators_parity_pytorch PROPERTIES FIXTURES_REQUIRED estimators_parity)
gsvae_timeout(30 estimators_parity_dump) # measured 0.2 s
gsvae_timeout(60 estimators_parity_pytorch) # 6 s

add_executable(estimators_gradcheck ${CMAKE_CURRENT_SOURCE_DIR}/estimators_gradcheck.c ${GSVAE_MODEL_F64_SOURCES})
target_compile_definitions(estimators_gradcheck PRIVATE GSVAE_REAL_DOUBLE)
target_link_libraries(estimators_gradcheck PRIVATE gsvae_lib gsvae_openblas)
add_test(NAME estimators_gradcheck COMMAND estimators_gradcheck)
gsvae_timeout(30 estimators_gradcheck) # measured 0.02 s
add_executable(estimators_stats ${CMAKE_CURRENT_SOURCE_DIR}/estimators_stats.c ${GSVAE_MODEL_F64_SOURCES})
target_compile_definitions(estimators_stats PRIVATE GSVAE_REAL_DOUBLE)
target_link_libraries(estimators_stats PRIVATE gsvae_lib gsvae_openblas)
add_test(NAME estimators_stats COMMAND estimators_stats)
gsvae_timeout(30 estimators_stats) # measured 0.6 s

add_test(NAME estimators_resume
         COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/estimators_resume.py ${GSVAE_BIN} ${GSVAE_MPIEXEC}
                 ${GSVAE_SMALL_DATA} ${CMAKE_CURRENT_BINARY_DIR}/estimators_resume)
gsvae_timeout(60 estimators_resume) # measured 7 s
set_tests_properties(estimators_resume PROPERTIES FIXTURES_REQUIRED small_data
                     ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;PYTHONPATH=${CMAKE_CURRENT_SOURCE_DIR}")

add_test(NAME estimators_cli
         COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/estimators_cli.py ${GSVAE_BIN} ${GSVAE_MPIEXEC}
                 ${GSVAE_SMALL_DATA} ${CMAKE_CURRENT_BINARY_DIR}/estimators_cli)
gsvae_timeout(150 estimators_cli) # measured 29 s
set_tests_properties(estimators_cli PROPERTIES FIXTURES_REQUIRED small_data
                     ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;PYTHONPATH=${CMAKE_CURRENT_SOURCE_DIR}")
