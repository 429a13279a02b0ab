# End-to-end training: a small real dataset, rank-count equality, bad data on the CLI.
set(GSVAE_SMALL_DATA ${CMAKE_CURRENT_BINARY_DIR}/small-fashion-mnist)
add_test(NAME train_make_small_dataset
         COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/make_small_dataset.py ${GSVAE_SMALL_DATA} 500 200)
set_tests_properties(train_make_small_dataset PROPERTIES FIXTURES_SETUP small_data)
gsvae_timeout(30 train_make_small_dataset) # measured 0.8 s
add_test(NAME train_ranks_agree
         COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/train_ranks.py ${GSVAE_BIN} ${GSVAE_MPIEXEC}
                 ${GSVAE_SMALL_DATA} ${CMAKE_CURRENT_BINARY_DIR}/train_ranks)
add_test(NAME train_bad_input
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/train_bad_input.sh ${GSVAE_BIN} ${GSVAE_SMALL_DATA}
                 ${CMAKE_CURRENT_BINARY_DIR}/train_bad_input)
set_tests_properties(train_ranks_agree train_bad_input PROPERTIES FIXTURES_REQUIRED small_data)
gsvae_timeout(240 train_ranks_agree) # measured 43 s
gsvae_timeout(60 train_bad_input)    # 6 s
add_test(NAME train_watchdog
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/train_watchdog.sh ${GSVAE_BIN} ${GSVAE_MPIEXEC} ${GSVAE_SMALL_DATA}
                 ${CMAKE_CURRENT_BINARY_DIR}/train_watchdog)
set_tests_properties(train_watchdog PROPERTIES FIXTURES_REQUIRED small_data)
gsvae_timeout(60 train_watchdog) # measured 4 s
add_test(NAME train_learns
         COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/train_learns.py ${GSVAE_BIN} ${GSVAE_SMALL_DATA}
                 ${CMAKE_CURRENT_BINARY_DIR}/train_learns)
set_tests_properties(train_learns PROPERTIES FIXTURES_REQUIRED small_data)
gsvae_timeout(120 train_learns) # measured 19 s
add_test(NAME train_large_shapes
         COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/train_large.py ${GSVAE_BIN} ${GSVAE_MPIEXEC}
                 ${CMAKE_CURRENT_BINARY_DIR}/train_large)
set_tests_properties(train_large_shapes PROPERTIES ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
gsvae_timeout(200 train_large_shapes) # measured 28 s on a loaded 2-core VM
