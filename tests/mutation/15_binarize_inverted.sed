# file: src/core/data.c
# what: dynamic binarization inverted: a pixel is 1 with probability 1 - its grey level
s|out\[p\] = out\[p\] < pixels\[p\] / 255.0f ? 1.0f : 0.0f;|out[p] = out[p] > pixels[p] / 255.0f ? 1.0f : 0.0f;|
