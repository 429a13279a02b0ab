# file: src/core/data.c
# what: the epoch's order not keyed by the epoch: the same permutation every epoch
s|gsvae_random_block(seed, GSVAE_NOISE_PERMUTATION, (uint64_t)epoch, (uint64_t)i, 0);|gsvae_random_block(seed, GSVAE_NOISE_PERMUTATION, 0, (uint64_t)i, 0);|
