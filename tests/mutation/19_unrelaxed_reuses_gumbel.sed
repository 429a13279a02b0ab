# file: src/cpu/cpu_backend.c
# what: a Philox counter reused across purposes: the unrelaxed pass draws the training sample's Gumbels
s|GSVAE_NOISE_GUMBEL_UNRELAXED, (uint64_t)step->step, (uint64_t)position);|GSVAE_NOISE_GUMBEL, (uint64_t)step->step, (uint64_t)position);|
