# file: src/core/noise.h
# what: a Philox counter reused: the step left out of the counter, the same noise every step
s|  philox4x32_ctr_t ctr = {{block, (uint32_t)sample, (uint32_t)step,|  philox4x32_ctr_t ctr = {{block, (uint32_t)sample, 0u,|
