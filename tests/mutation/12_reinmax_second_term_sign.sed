# file: src/cpu/latent.c
# what: ReinMax's second term added instead of subtracted (+J(pi0) dz / 2)
s|add_jacobian_product(group->soft, dz, categories, (gsvae_real)-0.5, grad_logits);|add_jacobian_product(group->soft, dz, categories, (gsvae_real)0.5, grad_logits);|
