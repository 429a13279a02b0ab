# file: src/cpu/cpu_backend.c
# what: the ordered fold reordered: every rank folds its chunks locally, so the order depends on the ranks
s|  return !config->train_deterministic \|\| first_chunk == 0;|  return true;|
