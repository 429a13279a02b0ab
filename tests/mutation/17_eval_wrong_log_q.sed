# file: src/analysis/eval_bound.c
# what: eval's importance weight with log q of category 0, not of the sampled one
s|log_q\[i\] += log_q_table\[((size_t)i \* latents + l) \* categories + best\];|log_q[i] += log_q_table[((size_t)i * latents + l) * categories];|
