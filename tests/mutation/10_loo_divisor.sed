# file: src/cpu/model_math.c
# what: sf's leave-one-out baseline divided by S instead of S - 1
s|(total - own) / (samples - 1) : ema;|(total - own) / samples : ema;|
