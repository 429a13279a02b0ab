# file: src/cpu/cpu_backend.c
# what: the last row of each chunk not gathered (its image and noise left from before)
s|^  gsvae_parallel_ranges((size_t)rows, 8, gather_range, &task);$|  gsvae_parallel_ranges((size_t)rows - 1, 8, gather_range, \&task);|
