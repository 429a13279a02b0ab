# file: src/cpu/model_math.c
# what: the KL against the uniform prior without its log K
s|    kl += real_exp(log_q) \* (log_q + log_k);|    kl += real_exp(log_q) * log_q;|
