# Analysis commands and sweeps on a short real run (the small_data fixture of train.cmake,
# which is included after this file: its data directory is named here the same way).
set(GSVAE_SMALL_DATA ${CMAKE_CURRENT_BINARY_DIR}/small-fashion-mnist)
add_test(NAME analysis_cli
         COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/analysis_cli.py ${GSVAE_BIN} ${GSVAE_SMALL_DATA}
                 ${CMAKE_CURRENT_BINARY_DIR}/analysis_cli)
add_test(NAME analysis_sweep
         COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/analysis_sweep.py ${GSVAE_BIN} ${GSVAE_MPIEXEC}
                 ${GSVAE_SMALL_DATA} ${CMAKE_CURRENT_BINARY_DIR}/analysis_sweep)
add_test(NAME analysis_bad_input
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/analysis_bad_input.sh ${GSVAE_BIN} ${CMAKE_CURRENT_BINARY_DIR}/analysis_bad_input)
set_tests_properties(analysis_cli analysis_sweep PROPERTIES FIXTURES_REQUIRED small_data)
# measured: analysis_cli 30 s of CPU (90 s on a loaded 2-core VM), analysis_sweep 3 s, analysis_bad_input 0.3 s
gsvae_timeout(300 analysis_cli)
gsvae_timeout(30 analysis_sweep analysis_bad_input)
add_test(NAME analysis_damaged
         COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/analysis_damaged.py ${GSVAE_BIN} ${GSVAE_SMALL_DATA}
                 ${CMAKE_CURRENT_BINARY_DIR}/analysis_damaged)
set_tests_properties(analysis_damaged PROPERTIES FIXTURES_REQUIRED small_data)
gsvae_timeout(120 analysis_damaged) # measured 12 s
