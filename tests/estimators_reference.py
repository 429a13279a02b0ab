"""The gradient estimators in PyTorch, written from their papers (not from gsvae's C), for the parity
check (estimators_parity.py). Each maps logits (..., K) and noise to the decoder's input, a tensor
whose value is the forward and whose autograd gradient is the estimator's. The categorical sample D
is one_hot(argmax(logits + g)) with the Gumbel draws g given (the Gumbel-max trick), so both sides
sample the same D; ReinMax is the `reinmax` package from PyPI (Liu et al.'s own code), fed that D."""
import torch
import torch.nn.functional as F

import reinmax as reinmax_package


def sample_one_hot(logits, gumbel):
    """D = one_hot(argmax(logits + g)): an exact sample of softmax(logits) (Gumbel-max)."""
    return F.one_hot((logits.detach() + gumbel).argmax(dim=-1), logits.shape[-1]).to(logits.dtype)


def straight_through(hard, soft):
    """Forward hard, gradient of soft (Bengio et al. 2013)."""
    return hard + (soft - soft.detach())


def gumbel_softmax(logits, gumbel, tau):
    """Jang et al. 2017, eq. 1: y = softmax((logits + g) / tau)."""
    return F.softmax((logits + gumbel) / tau, dim=-1)


def st_softmax(logits, gumbel, tau):
    """Straight-through without Gumbel noise (Bengio et al. 2013; Jang et al.'s 'ST' baseline): the
    forward a categorical sample, the backward the Jacobian of softmax(logits / tau)."""
    return straight_through(sample_one_hot(logits, gumbel), F.softmax(logits / tau, dim=-1))


def gapped_straight_through(logits, gumbel, tau, gap):
    """Fan et al. 2022, section 4.2: the soft sample is softmax(m2(logits, D) / tau), with m2 a
    stop-gradient move that (consistency) lifts D's logit to the largest logit and (strict gap)
    lowers every other logit to at most the largest minus the gap kappa; gradients reach the
    logits through m2's identity part only."""
    hard = sample_one_hot(logits, gumbel)
    with torch.no_grad():
        top = logits.max(dim=-1, keepdim=True).values
        moved = torch.where(hard.bool(), top, torch.minimum(logits, top - gap))
        move = moved - logits
    return straight_through(hard, F.softmax((logits + move) / tau, dim=-1))


def gumbel_rao(logits, gumbel, exponential, tau):
    """Paulus et al. 2021, GR-MCK: D from the Gumbel-max trick; K Gumbel perturbations drawn from
    their distribution given argmax = D (their appendix: the maximum is Gumbel(log Z), the others
    Gumbels truncated at it, both from Exp(1) draws E); the backward is the mean over the K draws of
    the Jacobian of softmax((logits + G_k) / tau), G_k held fixed.
    exponential: (..., K_draws, L, K) laid out with the draws before the latents."""
    hard = sample_one_hot(logits, gumbel)
    with torch.no_grad():
        hard_k = hard.unsqueeze(-3)                        # (..., 1, L, K)
        logits_k = logits.detach().unsqueeze(-3)
        log_z = torch.logsumexp(logits_k, dim=-1, keepdim=True)
        e_hot = (exponential * hard_k).sum(dim=-1, keepdim=True)
        top = log_z - torch.log(e_hot)                     # Gumbel(log Z) at D
        others = -torch.logaddexp(-top, torch.log(exponential) - logits_k)  # truncated at top
        noise = torch.where(hard_k.bool(), top, others) - logits_k
    soft = F.softmax((logits.unsqueeze(-3) + noise) / tau, dim=-1).mean(dim=-3)
    return straight_through(hard, soft)


def reinmax(logits, gumbel, tau):
    """Liu et al. 2023 through the `reinmax` package. It samples D with torch.multinomial; that one
    call is answered with the Gumbel-max D, so the sample is the one gsvae drew."""
    hard = sample_one_hot(logits, gumbel)
    picked = hard.argmax(dim=-1).reshape(-1, 1)
    original = torch.multinomial
    torch.multinomial = lambda probs, num_samples, replacement=False: picked
    try:
        sample, _ = reinmax_package.reinmax(logits, float(tau))
    finally:
        torch.multinomial = original
    return sample


def score_function_surrogate(logits, hard, losses, baseline):
    """REINFORCE (Williams 1992): a term whose gradient in the logits is the mean over S samples of
    (loss_s - baseline_s) * grad log q(D_s), value 0. hard: (B, S, L, K), losses and baseline (B, S)."""
    log_q = F.log_softmax(logits, dim=-1).unsqueeze(1)     # (B, 1, L, K)
    log_prob = (hard * log_q).sum(dim=(-1, -2))            # (B, S)
    weight = (losses - baseline).detach()
    surrogate = (weight * log_prob).mean(dim=1)
    return surrogate - surrogate.detach()


def leave_one_out_baseline(losses):
    """Kool et al. 2019: each sample's baseline is the mean of the input's other samples' losses."""
    samples = losses.shape[1]
    return (losses.sum(dim=1, keepdim=True) - losses) / (samples - 1)
