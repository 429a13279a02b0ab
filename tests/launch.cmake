# The launch scripts with stand-in mpirun and scontrol: dry runs (the launch line and each rank's
# device), the refusal of ranks sharing a GPU under NCCL, SIGUSR1 to checkpoint and requeue.
add_test(NAME launch_scripts
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/launch_scripts.sh ${GSVAE_BIN} ${CMAKE_SOURCE_DIR} ${GSVAE_SMALL_DATA}
                 ${CMAKE_CURRENT_BINARY_DIR}/launch_scripts)
set_tests_properties(launch_scripts PROPERTIES FIXTURES_REQUIRED small_data)
gsvae_timeout(120 launch_scripts) # measured 19 s
# An ordinary user builds from the committed tree, installs into a prefix and trains from it.
add_test(NAME install_unprivileged
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/install_unprivileged.sh ${CMAKE_SOURCE_DIR} ${GSVAE_SMALL_DATA})
set_tests_properties(install_unprivileged PROPERTIES FIXTURES_REQUIRED small_data)
gsvae_timeout(600 install_unprivileged) # measured 61 s: a whole CPU build
