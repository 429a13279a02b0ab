# file: src/cpu/latent.c
# what: tau applied twice in the relaxed sample: softmax(v / tau^2)
s|^    y\[c\] = v\[c\] / tau;|    y[c] = v[c] / tau / tau;|
