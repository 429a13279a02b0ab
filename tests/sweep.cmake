# Sweeps on grids that do not divide among the groups, every shipped sweep file, the hand-out
# order and failed points (the small_data fixture of train.cmake).
add_test(NAME sweep_grids
         COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/sweep_grids.py ${GSVAE_BIN} ${GSVAE_MPIEXEC}
                 ${CMAKE_CURRENT_BINARY_DIR}/small-fashion-mnist ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/sweep_grids)
set_tests_properties(sweep_grids PROPERTIES FIXTURES_REQUIRED small_data)
gsvae_timeout(180 sweep_grids) # measured 30 s
