# file: src/cpu/model_math.c
# what: Adam's first bias correction one step ahead: 1 - beta1^(t+1)
s|double bias_correction1 = 1 - pow(beta1, (double)t),|double bias_correction1 = 1 - pow(beta1, (double)(t + 1)),|
