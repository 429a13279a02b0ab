# file: src/comm/mpi.c
# what: a shard boundary off by one: each shard but the last ends one element early
s|q + 1 == size ? end : gsvae_shard_start(shard_count, size, q + 1);|q + 1 == size ? end : gsvae_shard_start(shard_count, size, q + 1) - 1;|
