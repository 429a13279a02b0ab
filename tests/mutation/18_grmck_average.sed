# file: src/cpu/latent.c
# what: GR-MCK's K conditional draws averaged over K + 1
s|group->tau, (gsvae_real)1 / draws, grad_logits,|group->tau, (gsvae_real)1 / (draws + 1), grad_logits,|
