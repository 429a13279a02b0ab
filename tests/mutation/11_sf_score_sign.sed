# file: src/cpu/latent.c
# what: sf's score function with its sign flipped: softmax(logits) - D_s
s|grad_logits\[c\] += weights\[s\] \* (d\[c\] - group->soft\[c\]);|grad_logits[c] += weights[s] * (group->soft[c] - d[c]);|
