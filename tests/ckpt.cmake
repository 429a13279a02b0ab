# Checkpoints, resume and faults: exact resume, kill -9 loop, signals, corrupted files, interop.
add_executable(ckpt_eval_inputs ${CMAKE_CURRENT_SOURCE_DIR}/ckpt_eval_inputs.c)
target_link_libraries(ckpt_eval_inputs PRIVATE gsvae_lib)
foreach(name resume resume_radam faults kill interop)
  add_test(NAME ckpt_${name}
           COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ckpt_${name}.py ${GSVAE_BIN} ${GSVAE_MPIEXEC}
                   ${GSVAE_SMALL_DATA} ${CMAKE_CURRENT_BINARY_DIR}/ckpt_${name} $<TARGET_FILE:ckpt_eval_inputs>)
  set_tests_properties(ckpt_${name} PROPERTIES FIXTURES_REQUIRED small_data TIMEOUT 900
                       ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
endforeach()
