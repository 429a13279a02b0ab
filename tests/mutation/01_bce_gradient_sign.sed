# file: src/cpu/exp_log_rows.c
# what: the BCE gradient's sign flipped: x - sigmoid(a) for sigmoid(a) - x
s|      grad\[start + p\] = sigmoid_numerator / (1 + e\[p\]) - target\[p\];|      grad[start + p] = target[p] - sigmoid_numerator / (1 + e[p]);|
