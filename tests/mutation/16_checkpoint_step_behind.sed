# file: src/train/train.c
# what: a checkpoint labelled one step before its data (written with the step before the update)
s|write_checkpoint(&t, step + 1, s.tau,|write_checkpoint(\&t, step, s.tau,|
