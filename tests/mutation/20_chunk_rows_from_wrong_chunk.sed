# file: src/cpu/cpu_backend.c
# what: a chunk's first row taken from the chunk before (rows of one chunk computed twice, one skipped)
s|  int first_row = gsvae_chunk_start(step->global_count, step->chunk_count, step->first_chunk + i);|  int first_row = gsvae_chunk_start(step->global_count, step->chunk_count, step->first_chunk + (i > 0 ? i - 1 : 0));|
