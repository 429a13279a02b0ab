# The config module: unit tests (defaults, YAML forms, round trip, error messages, any bytes)
# and `gsvae config` on the command line.
add_executable(config_test ${CMAKE_CURRENT_SOURCE_DIR}/config_test.c)
target_link_libraries(config_test PRIVATE gsvae_lib)
add_test(NAME config_unit COMMAND config_test ${CMAKE_CURRENT_BINARY_DIR})
add_test(NAME config_cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/config_cli.sh ${GSVAE_BIN} ${CMAKE_SOURCE_DIR}
                 ${CMAKE_CURRENT_BINARY_DIR}/config_cli)
gsvae_timeout(30 config_unit) # measured 0.4 s
gsvae_timeout(60 config_cli)  # 9 s
# The device rules: CPU or GPU, each local rank's GPU, which sharings NCCL's refusal allows.
add_executable(device_choice_test ${CMAKE_CURRENT_SOURCE_DIR}/device_choice_test.c)
target_link_libraries(device_choice_test PRIVATE gsvae_lib)
add_test(NAME device_choice COMMAND device_choice_test)
gsvae_timeout(30 device_choice) # measured 0.01 s
