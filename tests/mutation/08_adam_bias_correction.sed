# file: src/model/optimizer_step.c
# what: Adam's first bias correction one step ahead: 1 - beta1^(t+1)
s|  s.bias1 = 1 - pow(beta1, step);|  s.bias1 = 1 - pow(beta1, step + 1);|
