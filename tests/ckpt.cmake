# Checkpoints, resume and faults: exact resume, kill -9 loop, signals, corrupted files, interop.
add_executable(ckpt_eval_inputs ${CMAKE_CURRENT_SOURCE_DIR}/ckpt_eval_inputs.c)
target_link_libraries(ckpt_eval_inputs PRIVATE gsvae_lib)
foreach(name resume resume_radam faults kill interop)
  add_test(NAME ckpt_${name}
           COMMAND ${GSVAE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ckpt_${name}.py ${GSVAE_BIN} ${GSVAE_MPIEXEC}
                   ${GSVAE_SMALL_DATA} ${CMAKE_CURRENT_BINARY_DIR}/ckpt_${name} $<TARGET_FILE:ckpt_eval_inputs>)
  set_tests_properties(ckpt_${name} PROPERTIES FIXTURES_REQUIRED small_data
                       ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
endforeach()
# measured: resume 9 s, resume_radam 15 s, faults 58 s (1000-step signal runs; 92 s before them on a loaded 2-core VM), kill 77 s, interop 20 s
gsvae_timeout(60 ckpt_resume)
gsvae_timeout(90 ckpt_resume_radam)
gsvae_timeout(300 ckpt_faults)
gsvae_timeout(400 ckpt_kill)
gsvae_timeout(120 ckpt_interop)
