"""The seed's categorical VAE in PyTorch, the reference gsvae is checked against (parity tests) and
timed against (benchmark): the model, its relaxed / straight-through / unrelaxed losses, one
training step with the unrelaxed pass, and Adam. Gumbel noise comes in from the caller so that
both sides can use the same draws."""
import math

import torch
import torch.nn.functional as F
from torch import nn


def gumbel_noise(shape, generator=None):
    """g = -log(-log u), u ~ U(0,1) kept away from 0 and 1, for callers without gsvae's draws."""
    u = torch.rand(shape, generator=generator).clamp_(2.0**-25, 1 - 2.0**-24)
    return -torch.log(-torch.log(u))


class CategoricalVAE(nn.Module):
    """Encoder D -> hidden... -> L*K (ReLU after every layer, the logits too when logits_relu:
    the seed's quirk), decoder L*K -> reversed hidden... -> D (ReLU but on the output).
    Layers are fc1..fcN, so state_dict names and shapes are those of gsvae's /params."""

    def __init__(self, input_dim=784, hidden=(512, 256), latents=30, categories=10, logits_relu=True):
        super().__init__()
        self.latents, self.categories, self.logits_relu = latents, categories, logits_relu
        sizes = [input_dim, *hidden, latents * categories, *reversed(hidden), input_dim]
        self.encoder_layers = len(hidden) + 1
        for i in range(len(sizes) - 1):
            setattr(self, f"fc{i + 1}", nn.Linear(sizes[i], sizes[i + 1]))
        self.layers = [getattr(self, f"fc{i + 1}") for i in range(len(sizes) - 1)]

    def encode(self, x):
        h = x
        for i, layer in enumerate(self.layers[: self.encoder_layers]):
            h = layer(h)
            if i < self.encoder_layers - 1 or self.logits_relu:
                h = F.relu(h)
        return h

    def decode(self, z):
        """The pre-sigmoid output a; the image is sigmoid(a)."""
        decoder = self.layers[self.encoder_layers:]
        h = z
        for i, layer in enumerate(decoder):
            h = layer(h)
            if i < len(decoder) - 1:
                h = F.relu(h)
        return h

    def sample(self, logits, gumbel, tau, straight_through):
        """y = softmax((logits + g)/tau) per latent; ST: forward one_hot(argmax(logits + g)) exactly,
        backward through y (y - y.detach() is exactly 0, so the forward value is the one-hot)."""
        shape = (logits.shape[0], self.latents, self.categories)
        perturbed = (logits + gumbel).view(shape)
        y = F.softmax(perturbed / tau, dim=-1)
        if straight_through:
            hard = F.one_hot(perturbed.argmax(dim=-1), self.categories).to(y.dtype)
            y = hard + (y - y.detach())
        return y.view(logits.shape)

    def one_hot_sample(self, logits, gumbel):
        """The unrelaxed objective's true categorical sample one_hot(argmax(logits + g'))."""
        shape = (logits.shape[0], self.latents, self.categories)
        picked = (logits + gumbel).view(shape).argmax(dim=-1)
        return F.one_hot(picked, self.categories).to(logits.dtype).view(logits.shape)

    def per_sample_losses(self, x, a, logits):
        """BCE summed over pixels (from the pre-sigmoid output) and KL(q || uniform) summed over
        the L*K entries (from log_softmax), one value per sample."""
        bce = F.binary_cross_entropy_with_logits(a, x, reduction="none").sum(dim=1)
        log_q = F.log_softmax(logits.view(logits.shape[0], self.latents, self.categories), dim=-1)
        kl = (log_q.exp() * (log_q + math.log(self.categories))).sum(dim=(1, 2))
        return bce, kl

    def forward(self, x, gumbel, tau, straight_through=False, gumbel_unrelaxed=None):
        """Batch means: loss (relaxed, differentiable), bce, kl, and the unrelaxed loss (no grad) from
        the same logits when gumbel_unrelaxed is given."""
        logits = self.encode(x)
        a = self.decode(self.sample(logits, gumbel, tau, straight_through))
        bce, kl = self.per_sample_losses(x, a, logits)
        out = {"loss": (bce + kl).mean(), "bce": bce.mean().detach(), "kl": kl.mean().detach()}
        if gumbel_unrelaxed is not None:
            with torch.no_grad():
                logits = logits.detach()
                bce_u, kl_u = self.per_sample_losses(x, self.decode(self.one_hot_sample(logits, gumbel_unrelaxed)), logits)
                out["unrelaxed"] = (bce_u + kl_u).mean()
        return out


def make_optimizer(model, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    """Adam as the seed uses it; the single-tensor path, whose arithmetic gsvae's Adam follows."""
    return torch.optim.Adam(model.parameters(), lr=lr, betas=betas, eps=eps, foreach=False)


def train_step(model, optimizer, x, gumbel, tau, straight_through=False, gumbel_unrelaxed=None):
    """One step: relaxed loss, backward, Adam; the unrelaxed loss with the pre-update weights.
    Returns the step's batch means as floats."""
    optimizer.zero_grad(set_to_none=True)
    out = model(x, gumbel, tau, straight_through, gumbel_unrelaxed)
    out["loss"].backward()
    optimizer.step()
    return {key: float(value) for key, value in out.items()}
