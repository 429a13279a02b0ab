# file: src/cpu/cpu_backend.c
# what: the last row of each chunk not gathered (its image and noise left from before)
s|^  for (int i = 0; i < rows; i++) {$|  for (int i = 0; i < rows - 1; i++) {|
