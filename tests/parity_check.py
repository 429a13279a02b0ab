"""Parity with PyTorch, step by step from the same state. For each case (gs and st at tau 1 and 0.5
with Adam, gs at tau 1 and st at tau 0.5 with RAdam) and each of 20 steps, parity_step runs one
step of gsvae's CPU backend from the state gsvae reached (parameters and the optimizer's moments),
and this script computes the same step in PyTorch
(tests/reference_model.py's layers and losses) from that same state, so that rounding cannot
compound across steps:

1. Branch decisions. A ReLU whose pre-activation is within rounding of 0, or an argmax whose two
   best perturbed logits are within rounding of each other, may go either way in float32 on a
   given BLAS kernel. Every decision gsvae took (its ReLU outputs, straight-through and unrelaxed
   picks) must agree with float64 PyTorch's, except where float64 shows the margin to be inside a
   rigorous float32 error bound (forward_error_bounds). Those decisions are then imposed on
   PyTorch, so that the comparisons below see rounding only.
2. The step's losses and every gradient against float64 PyTorch with gsvae's decisions.
3. The update: PyTorch's Adam or RAdam (float32, single-tensor) applied to gsvae's state and
   gsvae's gradients must give gsvae's new parameters and moments within a few ulp. RAdam's 20
   steps (beta2 = 0.999) cover both of its rules: momentum SGD at t = 1..5, rectified from t = 6.

usage: parity_check.py PARITY_STEP WORK_DIR"""
import math
import os
import subprocess
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish, relative  # noqa: E402
from reference_model import CategoricalVAE  # noqa: E402

# Each step's checks print only when they fail (GSVAE_PARITY_VERBOSE=1: all); a summary per case.
QUIET = not os.environ.get("GSVAE_PARITY_VERBOSE")
CASES = ("gs_tau1", "gs_tau0.5", "st_tau1", "st_tau0.5", "gs_tau1_radam", "st_tau0.5_radam")
STEPS = 20
UNIT_ROUNDOFF = 2.0**-24

# Losses: gsvae sums each sample's 784 BCE terms in float32 and the samples in double. Recursive
# float32 summation of n terms errs by at most gamma_n = n*u/(1-n*u) of the sum of magnitudes
# (4.7e-5 for n = 784) whatever the order, but rounding errors of independent terms add like a
# random walk, sqrt(n)*u = 1.7e-6 relative; the upstream activations' float32 error adds about as
# much again. 1e-5 is 3x that, and a wrong formula (a missing term, a wrong constant) is >= 1e-3.
LOSS_TOLERANCE = 1e-5
# Gradients, relative in each tensor's norm: with the branch decisions fixed, each gradient is a
# chain of at most 6 float32 products (sums of <= 784 terms) and elementwise maps, each adding
# about sqrt(K)*u = 1.7e-6 of random-walk rounding: ~1e-5 at worst through the whole chain, while
# a wrong derivative is off by O(1). Measured: 2e-7 to 2e-6 on Haswell and SkylakeX kernels.
GRAD_TOLERANCE = 1e-5
# KL(q || uniform) = sum q (log q + log K) cancels (it is 0 at a uniform q), so its rounding is
# relative to the sum of its terms' magnitudes, not to its value: LOSS_TOLERANCE of that.





def gamma(n):
    return n * UNIT_ROUNDOFF / (1 - n * UNIT_ROUNDOFF)


def read_tensors(group):
    return {name: torch.from_numpy(group[name][:]) for name in group}


def linear_bound(h, h_error, layer):
    """Pre-activation h W^T + b in float64, and a bound on its float32 error: this layer's own
    rounding, at most gamma_{K+1} (|h| |W|^T + |b|) for a sum of K products and the bias in any
    order or blocking, plus the inputs' error carried through |W|."""
    weight, bias = layer.weight.detach(), layer.bias.detach()
    pre = h @ weight.T + bias
    bound = gamma(weight.shape[1] + 1) * (h.abs() @ weight.abs().T + bias.abs()) + h_error @ weight.abs().T
    return pre, bound


def forward_error_bounds(model, x, gumbel, gumbel_unrelaxed, tau, straight_through, decisions):
    """Float64 forward of both passes with bounds on gsvae's float32 error, checking each of
    gsvae's decisions against it. Bounds are first order (products of two errors, ~u^2, are
    dropped); the factor 2 on every margin covers them and expf's < 1 ulp in the softmax."""
    problems, flips = [], 0

    def check_relu(name, pre, bound, gsvae_output):
        nonlocal flips
        differ = (pre > 0) != (gsvae_output > 0)
        flips += int(differ.sum())
        outside = differ & (pre.abs() > 2 * bound)
        if outside.any():
            problems.append(f"{name}: {int(outside.sum())} ReLU decision(s) differ outside the float32 error bound "
                            f"(largest |pre-activation| {float(pre.abs()[outside].max()):.3e})")

    def check_argmax(name, perturbed, bound, gsvae_picks):
        nonlocal flips
        ours = perturbed.argmax(dim=-1)
        differ = ours != gsvae_picks
        flips += int(differ.sum())
        if differ.any():
            top = perturbed.gather(-1, ours.unsqueeze(-1)).squeeze(-1)
            theirs = perturbed.gather(-1, gsvae_picks.unsqueeze(-1)).squeeze(-1)
            margin_bound = (bound.gather(-1, ours.unsqueeze(-1)) + bound.gather(-1, gsvae_picks.unsqueeze(-1))).squeeze(-1)
            outside = differ & (top - theirs > 2 * margin_bound)
            if outside.any():
                problems.append(f"{name}: {int(outside.sum())} pick(s) differ outside the float32 error bound")

    h, h_error = x, torch.zeros_like(x)
    layers = model.layers
    for index in range(model.encoder_layers):
        pre, bound = linear_bound(h, h_error, layers[index])
        if index < model.encoder_layers - 1 or model.logits_relu:
            check_relu(f"layer {index + 1}", pre, bound, decisions[f"relaxed_layer{index + 1}"])
            h = pre.clamp(min=0)
        else:
            h = pre
        h_error = bound
    logits, logits_error = h, h_error
    shape = (x.shape[0], model.latents, model.categories)
    rounding = lambda v: UNIT_ROUNDOFF * v.abs()  # noqa: E731  (the float32 add of logits and noise)
    perturbed = (logits + gumbel).view(shape)
    perturbed_error = (logits_error + rounding(logits + gumbel)).view(shape)
    perturbed_unrelaxed = (logits + gumbel_unrelaxed).view(shape)
    unrelaxed_error = (logits_error + rounding(logits + gumbel_unrelaxed)).view(shape)
    check_argmax("unrelaxed sample", perturbed_unrelaxed, unrelaxed_error, decisions["unrelaxed_picks"].long())
    if straight_through:
        st_picks = decisions["straight_through"].view(shape).argmax(dim=-1)
        check_argmax("straight-through sample", perturbed, perturbed_error, st_picks)
        z, z_error = F.one_hot(st_picks, model.categories).to(x.dtype).view(logits.shape), torch.zeros_like(logits)
    else:
        y = F.softmax(perturbed / tau, dim=-1)
        # d log y_c = (da_c - sum_j y_j da_j) / tau, so |dy_c| <= 2 y_c max_j |da_j| / tau, plus the
        # softmax's own K + 3 roundings (K exps, the sum, the shift and the division)
        y_error = y * (2 * perturbed_error.amax(dim=-1, keepdim=True) / tau + (model.categories + 3) * UNIT_ROUNDOFF)
        z, z_error = y.view(logits.shape), y_error.view(logits.shape)
    picks = decisions["unrelaxed_picks"].long()
    passes = [("relaxed", z, z_error),
              ("unrelaxed", F.one_hot(picks, model.categories).to(x.dtype).view(logits.shape), torch.zeros_like(logits))]
    for pass_name, h, h_error in passes:
        decoder = layers[model.encoder_layers:]
        for offset, layer in enumerate(decoder[:-1]):
            index = model.encoder_layers + offset
            pre, bound = linear_bound(h, h_error, layer)
            check_relu(f"{pass_name} layer {index + 1}", pre, bound, decisions[f"{pass_name}_layer{index + 1}"])
            h, h_error = pre.clamp(min=0), bound
    return problems, flips


def forward_with_decisions(model, x, gumbel, tau, straight_through, decisions):
    """reference_model's forward with gsvae's ReLU and argmax decisions imposed: relu(v) becomes
    v * mask, the one-hot samples are gsvae's. Batch means of the relaxed loss (differentiable),
    BCE, KL and the unrelaxed loss."""
    layers = model.layers
    h = x
    for index in range(model.encoder_layers):
        h = layers[index](h)
        if index < model.encoder_layers - 1 or model.logits_relu:
            h = h * (decisions[f"relaxed_layer{index + 1}"] > 0).to(h.dtype)
    logits = h
    shape = (x.shape[0], model.latents, model.categories)
    y = F.softmax((logits + gumbel).view(shape) / tau, dim=-1)
    if straight_through:
        y = decisions["straight_through"].to(y.dtype).view(shape) + (y - y.detach())
    z = y.view(logits.shape)

    def decode(z, pass_name):
        h = z
        for offset, layer in enumerate(layers[model.encoder_layers:]):
            h = layer(h)
            index = model.encoder_layers + offset
            if index < len(layers) - 1:
                h = h * (decisions[f"{pass_name}_layer{index + 1}"] > 0).to(h.dtype)
        return h

    bce, kl = model.per_sample_losses(x, decode(z, "relaxed"), logits)
    with torch.no_grad():
        one_hot = F.one_hot(decisions["unrelaxed_picks"].long(), model.categories).to(x.dtype).view(logits.shape)
        bce_u, kl_u = model.per_sample_losses(x, decode(one_hot, "unrelaxed"), logits.detach())
        log_q = F.log_softmax(logits.view(shape), dim=-1)
        kl_magnitude = (log_q.exp() * (log_q + math.log(model.categories)).abs()).sum(dim=(1, 2)).mean()
    return {"relaxed": (bce + kl).mean(), "bce": bce.mean().detach(), "kl": kl.mean().detach(),
            "unrelaxed": (bce_u + kl_u).mean(), "kl_magnitude": kl_magnitude}


def adam_error_bounds(state, grads, step, lr, beta1, beta2, eps):
    """Elementwise bounds on |gsvae - PyTorch| for Adam's results from the same state and gradients.
    Each side evaluates m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2 and p -= s m / (sqrt(v)/c + eps)
    in float32, every operation correctly rounded; ATen may fuse a multiply-add where gsvae rounds
    twice. Each side is then within 2u of the magnitudes of the operands of each operation (first
    order), so the two within 4u of them: relative to the operands, not the result, since m
    cancels where the gradient changes sign. The parameter bound carries m's and v's through the
    update's derivative."""
    t = step + 1
    step_size, bc2_sqrt = lr / (1 - beta1**t), (1 - beta2**t) ** 0.5
    bounds = {"params": {}, "exp_avg": {}, "exp_avg_sq": {}}
    for name, g in grads.items():
        p0, m, v, m_bound, v_bound = moments_and_bounds(state, name, g, beta1, beta2)
        root = np.sqrt(v)
        denom = root / bc2_sqrt + eps
        denom_bound = v_bound / (2 * np.maximum(root, 1e-300) * bc2_sqrt) + 4 * UNIT_ROUNDOFF * denom
        update = step_size * m / denom
        update_bound = step_size * (m_bound / denom + np.abs(m) * denom_bound / denom**2) + 4 * UNIT_ROUNDOFF * np.abs(update)
        bounds["exp_avg"][name], bounds["exp_avg_sq"][name] = m_bound, v_bound
        bounds["params"][name] = 4 * UNIT_ROUNDOFF * np.abs(p0 - update) + update_bound
    return bounds


def moments_and_bounds(state, name, g, beta1, beta2):
    """Adam's and RAdam's shared start from the same state and gradient: the old parameter, the new
    moments, and the moments' bounds (each side within 2u of its operands' magnitudes, so 4u apart)."""
    g = g.double().numpy()
    m0, v0 = state["exp_avg"][name].double().numpy(), state["exp_avg_sq"][name].double().numpy()
    p0 = state["params"][name].double().numpy()
    m, v = beta1 * m0 + (1 - beta1) * g, beta2 * v0 + (1 - beta2) * g * g
    m_bound = 4 * UNIT_ROUNDOFF * (beta1 * np.abs(m0) + (1 - beta1) * np.abs(g))
    v_bound = 4 * UNIT_ROUNDOFF * (beta2 * v0 + (1 - beta2) * g * g)
    return p0, m, v, m_bound, v_bound


def radam_error_bounds(state, grads, step, lr, beta1, beta2, eps):
    """Elementwise bounds on |gsvae - PyTorch| for RAdam's results from the same state and gradients.
    The moments as Adam's (adam_error_bounds). The scalars (1 - beta1^t, sqrt(1 - beta2^t), r_t) are
    the same doubles on both sides, rounded once to float32 alike. With rho_t <= 5 the update is
    (m / c1) * lr, 2 roundings a side: 4u of it; rectified, ((m / c1) * lr) * ((1 / (sqrt(v) + eps))
    * c2) * r is 8 roundings a side (div, mul, sqrt, add, reciprocal, 3 mul), 16u of it, first
    order. m's and v's bounds are carried through the update's derivative in m and in sqrt(v), as
    for Adam, and the final subtraction adds 4u of the new parameter."""
    t = step + 1
    bias1, bias2 = 1 - beta1**t, 1 - beta2**t
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * (beta2**t) / bias2
    rectified = rho_t > 5.0
    rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) if rectified else 0
    bounds = {"params": {}, "exp_avg": {}, "exp_avg_sq": {}}
    for name, g in grads.items():
        p0, m, v, m_bound, v_bound = moments_and_bounds(state, name, g, beta1, beta2)
        if rectified:
            root = np.sqrt(v)
            denom = root + eps
            scale = lr / bias1 * math.sqrt(bias2) * rect
            update = scale * m / denom
            denom_bound = v_bound / (2 * np.maximum(root, 1e-300))
            update_bound = scale * (m_bound / denom + np.abs(m) * denom_bound / denom**2) + 16 * UNIT_ROUNDOFF * np.abs(update)
        else:
            update = m / bias1 * lr
            update_bound = lr / bias1 * m_bound + 4 * UNIT_ROUNDOFF * np.abs(update)
        bounds["exp_avg"][name], bounds["exp_avg_sq"][name] = m_bound, v_bound
        bounds["params"][name] = 4 * UNIT_ROUNDOFF * np.abs(p0 - update) + update_bound
    return bounds


def torch_optimizer_step(optimizer_class, initial_state, grads, step, lr, betas, eps):
    """PyTorch's Adam or RAdam, one step, from given parameters and moments (float32)."""
    params = {name: torch.nn.Parameter(value.clone()) for name, value in initial_state["params"].items()}
    optimizer = optimizer_class(params.values(), lr=lr, betas=betas, eps=eps, foreach=False)
    for name, param in params.items():
        param.grad = grads[name].clone()
        optimizer.state[param] = {"step": torch.tensor(float(step)), "exp_avg": initial_state["exp_avg"][name].clone(),
                                  "exp_avg_sq": initial_state["exp_avg_sq"][name].clone()}
    optimizer.step()
    return {"params": {n: p.detach() for n, p in params.items()},
            "exp_avg": {n: optimizer.state[p]["exp_avg"] for n, p in params.items()},
            "exp_avg_sq": {n: optimizer.state[p]["exp_avg_sq"] for n, p in params.items()}}


def check_step(case, step, f, state, worst):
    lr, beta1, beta2, eps = (float(v) for v in f.attrs["lr_beta1_beta2_eps"])
    tau = float(f.attrs["tau"][0])
    straight_through, logits_relu, encoder_layers, radam = (
        int(v) for v in f.attrs["straight_through_logits_relu_encoder_layers_radam"])
    x, gumbel, gumbel_unrelaxed = (torch.from_numpy(f[k][:]) for k in ("x", "gumbel", "gumbel_unrelaxed"))
    batch = x.shape[0]
    decisions = read_tensors(f["decisions"])
    hidden = tuple(state["params"][f"fc{i + 1}.weight"].shape[0] for i in range(encoder_layers - 1))
    latents = decisions["unrelaxed_picks"].shape[1]
    categories = gumbel.shape[1] // latents
    where = f"{case} step {step:2d}"

    models = {}
    for dtype in (torch.float64, torch.float32):
        model = CategoricalVAE(x.shape[1], hidden, latents, categories, bool(logits_relu)).to(dtype)
        model.load_state_dict(state["params"])
        models[dtype] = model
    as64 = lambda t: t.to(torch.float64)  # noqa: E731
    with torch.no_grad():
        problems, flips = forward_error_bounds(models[torch.float64], as64(x), as64(gumbel), as64(gumbel_unrelaxed), tau,
                                               straight_through, {k: as64(v) if v.is_floating_point() else v
                                                                  for k, v in decisions.items()})
    for problem in problems:
        check(False, f"{where}: {problem}", 1.0, 0.0)
    worst["flips"] += flips

    outputs, grads = {}, {}
    for dtype, model in models.items():
        out = forward_with_decisions(model, x.to(dtype), gumbel.to(dtype), tau, straight_through,
                                     {k: v.to(dtype) if v.is_floating_point() else v for k, v in decisions.items()})
        out["relaxed"].backward()
        outputs[dtype] = {k: float(v) for k, v in out.items()}
        grads[dtype] = {name: p.grad.double().numpy() for name, p in model.named_parameters()}
    metric_sums = f["metric_sums"][:].astype(np.float64)  # relaxed, bce, kl, unrelaxed, samples
    ours = dict(zip(("relaxed", "bce", "kl", "unrelaxed"), metric_sums[:4] / metric_sums[4]))
    exact = outputs[torch.float64]
    for key, value in ours.items():
        scale = exact["kl_magnitude"] if key == "kl" else abs(exact[key])
        error = abs(value - exact[key]) / scale
        worst["loss"] = max(worst["loss"], error)
        worst["loss32"] = max(worst["loss32"], abs(outputs[torch.float32][key] - exact[key]) / scale)
        check(error <= LOSS_TOLERANCE, f"{where}: {key} loss vs float64", error, LOSS_TOLERANCE, QUIET)
    gsvae_grads = {name: f["grad_sums"][name][:] for name in f["grad_sums"]}
    for name, grad in gsvae_grads.items():
        error = relative(grad.astype(np.float64) / batch, grads[torch.float64][name])
        worst["grad"] = max(worst["grad"], error)
        worst["grad32"] = max(worst["grad32"], relative(grads[torch.float32][name], grads[torch.float64][name]))
        check(error <= GRAD_TOLERANCE, f"{where}: gradient of {name} vs float64", error, GRAD_TOLERANCE, QUIET)

    # gsvae divides the gradient sums by the batch in float32 inside Adam: the same one rounding here
    mean_grads = {name: torch.from_numpy(grad) / np.float32(batch) for name, grad in gsvae_grads.items()}
    optimizer_class, error_bounds = (torch.optim.RAdam, radam_error_bounds) if radam else (torch.optim.Adam,
                                                                                             adam_error_bounds)
    expected = torch_optimizer_step(optimizer_class, state, mean_grads, step, lr, (beta1, beta2), eps)
    bounds = error_bounds(state, mean_grads, step, lr, beta1, beta2, eps)
    for part in ("params", "exp_avg", "exp_avg_sq"):
        for name in gsvae_grads:
            difference = np.abs(f["after"][part][name][:].astype(np.float64) - expected[part][name].double().numpy())
            ratio = float(np.max(difference / np.maximum(bounds[part][name], 1e-300)))
            worst["update"] = max(worst["update"], ratio)
            check(ratio <= 1, f"{where}: {optimizer_class.__name__}'s {part} of {name} vs PyTorch (of the rounding "
                  "bound)", ratio, 1, QUIET)
    return {part: read_tensors(f["after"][part]) for part in ("params", "exp_avg", "exp_avg_sq")}


def main(parity_step, work):
    torch.set_num_threads(1)
    os.makedirs(work, exist_ok=True)
    for case in CASES:
        worst = {"loss": 0.0, "loss32": 0.0, "grad": 0.0, "grad32": 0.0, "update": 0.0, "flips": 0}
        state, previous = None, None
        for step in range(STEPS):
            path = os.path.join(work, f"{case}_step{step % 2}.h5")
            subprocess.run([parity_step, path, case, str(step)] + ([previous] if previous else []), check=True)
            with h5py.File(path, "r") as f:
                if state is None:
                    params = read_tensors(f["initial"])
                    state = {"params": params, "exp_avg": {n: torch.zeros_like(p) for n, p in params.items()},
                             "exp_avg_sq": {n: torch.zeros_like(p) for n, p in params.items()}}
                state = check_step(case, step, f, state, worst)
            previous = path
        print(f"{case}: {STEPS} steps from gsvae's state: losses vs float64 {worst['loss']:.1e} (PyTorch float32 "
              f"{worst['loss32']:.1e}), gradients {worst['grad']:.1e} (PyTorch float32 {worst['grad32']:.1e}), "
              f"{'RAdam' if case.endswith('_radam') else 'Adam'} within {worst['update']:.2f} of its rounding bound, {worst['flips']} decision(s) inside the float32 error bound")
    finish()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
