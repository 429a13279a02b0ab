# file: src/cpu/latent.c
# what: st_softmax's backward swapped for st's: through softmax((logits + g) / tau)
s|\[GSVAE_ESTIMATOR_ST_SOFTMAX\] = {st_softmax_forward, st_softmax_backward}|[GSVAE_ESTIMATOR_ST_SOFTMAX] = {st_forward, st_softmax_backward}|
