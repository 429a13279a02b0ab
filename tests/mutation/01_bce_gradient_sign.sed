# file: src/cpu/libmvec_rows.c
# what: the BCE gradient's sign flipped: x - sigmoid(a) for sigmoid(a) - x
s|      grad\[p\] = (v >= 0 ? 1 : e) / one_plus - x\[p\];|      grad[p] = x[p] - (v >= 0 ? 1 : e) / one_plus;|
