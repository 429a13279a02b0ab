"""Parity of every estimator beyond gs/st with PyTorch, step by step from the same state: runs the
estimators of tests/estimators_reference.py (written from the papers; ReinMax the PyPI package) in
the model of tests/reference_model.py on estimators_dump's batches and noise, each step from the
state gsvae's CPU backend started that step with (so that rounding cannot compound), and checks
that step's gradient of every tensor (log tau too) and its loss, and sf's moving average after it."""
import math
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import estimators_reference as ref  # noqa: E402
from checks import check, finish, relative  # noqa: E402
from reference_model import CategoricalVAE  # noqa: E402

# Each comparison is against the float64 reference from the same state (the exact computation on
# the float32 inputs); gsvae, in float32, may be as far from it as PyTorch's own float32 run is,
# twice over, and never less than the floor: a float32 gradient or loss summed over the batch's
# ~10^3-10^4 terms carries ~sqrt(n) 2^-24 ~ 1e-6 relative rounding, so 1e-5 is 10x that. (Adam's
# update is the same code as the seed's, checked against PyTorch's in parity_check.py.)
GRAD_FLOOR = 1e-5
LOSS_FLOOR = 1e-5
# sf's encoder gradient multiplies each score by (loss - baseline), a difference of per-row BCE sums
# over D pixels. Two float32 summation orders of such a sum differ by ~sqrt(D) 2^-24 |loss| (a
# random walk of roundings), so the gradient's relative error is that over |loss - baseline|: the
# limit is 3 times that RMS estimate (3 standard deviations), computed from the case's own losses.
SF_ROUNDING_SIGMAS = 3
# The float32 reference's own error measures the cancellation a tensor's sums carry; on this model it
# is ~1e-7..4e-7 outside sf's encoder (the inputs of a sum of 10^3-10^4 terms do not cancel much). Twice
# it is capped at 10x the floor, so that one poorly conditioned float32 run cannot widen a limit without
# bound; sf's encoder, where the cancellation is real (2x its float32 error: up to 2.5e-4), has the
# rounding allowance above, which applies to the encoder's tensors only: the decoder's gradient takes
# no score term (measured 2e-7 there).
NOISE_CAP = 10 * GRAD_FLOOR
# The cases estimators_dump writes: a case missing from the file fails rather than passing unchecked.
EXPECTED_CASES = {"st_softmax", "gst", "grmck", "reinmax", "sf_ema", "sf_loo", "gs_learn_tau", "grmck_learn_tau"}





def reference_step(f, case, s, state, dtype):
    """Step s of the reference in dtype from gsvae's state at that step (the parameters, log tau,
    sf's moving average): the step's loss (BCE + KL, batch mean), its gradients (batch means), the
    encoder's tensor names and, for sf, the rounding estimate of its encoder gradient."""
    group = f[case]
    input_dim, latents, categories, logits_relu = (int(v) for v in f.attrs["input_latents_categories_logits_relu"])
    hidden = tuple(int(v) for v in f.attrs["hidden"])
    name = group.attrs["estimator"].decode() if isinstance(group.attrs["estimator"], bytes) else str(group.attrs["estimator"])
    _, samples, baseline_kind, learn_tau = (int(v) for v in group.attrs["estimator_samples_baseline_learn_tau"])
    tau0, gap = (float(v) for v in group.attrs["tau_gap"])
    model = CategoricalVAE(input_dim, hidden, latents, categories, bool(logits_relu)).to(dtype)
    model.load_state_dict({k: torch.from_numpy(state[k]) for k in model.state_dict()})
    log_tau = torch.nn.Parameter(torch.tensor(float(state["log_tau"][0]), dtype=dtype)) if learn_tau else None
    x = torch.from_numpy(f["x"][s]).to(dtype)
    batch = x.shape[0]
    tau = torch.exp(log_tau) if learn_tau else tau0
    logits = model.encode(x).view(batch, latents, categories)
    gumbel = torch.from_numpy(group["gumbel"][s]).to(dtype).view(batch, -1, latents, categories)
    sf_rounding = 0.0
    if name == "sf":
        hard = ref.sample_one_hot(logits.unsqueeze(1), gumbel)                     # (B, S, L, K)
        a = model.decode(hard.reshape(batch * samples, latents * categories))
        x_rows = x.unsqueeze(1).expand(batch, samples, input_dim).reshape(batch * samples, input_dim)
        bce_rows = torch.nn.functional.binary_cross_entropy_with_logits(a, x_rows, reduction="none").sum(1)
        bce_rows = bce_rows.view(batch, samples)
        if baseline_kind == 1:
            baseline = ref.leave_one_out_baseline(bce_rows.detach())
        else:  # gsvae's moving average (sum, weight), bias-corrected, divided in float as gsvae does
            total, weight = state["sf_baseline"].astype(np.float32)
            baseline = torch.full_like(bce_rows, float(total / weight) if weight > 0 else 0.0)
        bce = bce_rows.mean(dim=1)
        rms = lambda t: float(t.detach().double().pow(2).mean().sqrt())  # noqa: E731
        sf_rounding = math.sqrt(input_dim) * 2.0**-24 * rms(bce_rows) / rms(bce_rows - baseline)
        surrogate = ref.score_function_surrogate(logits, hard, bce_rows, baseline)
    else:
        g = gumbel[:, 0]
        if name == "st_softmax":
            z = ref.st_softmax(logits, g, tau)
        elif name == "gst":
            z = ref.gapped_straight_through(logits, g, tau, gap)
        elif name == "grmck":
            uniform = torch.from_numpy(group["conditional_uniform"][s]).view(batch, -1, latents, categories)
            z = ref.gumbel_rao(logits, g, -torch.log(uniform).to(dtype), tau)
        elif name == "reinmax":
            z = ref.reinmax(logits, g, tau)
        elif name == "gs":
            z = ref.gumbel_softmax(logits, g, tau)
        else:
            raise SystemExit(f"{case}: no reference for estimator {name}")
        a = model.decode(z.reshape(batch, latents * categories))
        bce = torch.nn.functional.binary_cross_entropy_with_logits(a, x, reduction="none").sum(1)
        surrogate = torch.zeros_like(bce)
    _, kl = model.per_sample_losses(x, a[:batch], logits.reshape(batch, -1))  # KL only: that BCE is unused
    (bce + kl + surrogate).mean().backward()
    grads = {k: p.grad.double().numpy() for k, p in model.named_parameters()}
    if learn_tau:
        grads["log_tau"] = np.array([float(log_tau.grad)])
    encoder = {f"fc{i + 1}.{kind}" for i in range(model.encoder_layers) for kind in ("weight", "bias")}
    return float((bce + kl).mean()), grads, encoder, sf_rounding


def read_state(group):
    return {name: group[name][:] for name in group}


def main(path):
    torch.set_num_threads(1)
    f = h5py.File(path, "r")
    batch = f["x"].shape[1]
    sf_decay = float(f.attrs["lr_beta1_beta2_eps_sf_decay"][4])
    cases = {case for case in f if isinstance(f[case], h5py.Group)}
    check(cases == EXPECTED_CASES, f"the file's cases {sorted(cases)} are those expected", len(cases ^ EXPECTED_CASES), 0)
    for case in sorted(cases & EXPECTED_CASES):
        group = f[case]
        steps = len(group["steps"])
        check(steps >= 5, f"{case}: steps compared", steps, 5, quiet=True)
        worst = {"grad": 0.0, "loss": 0.0}
        for s in range(steps):
            state = read_state(group[f"steps/{s}/params"])
            loss64, grads64, encoder, sf_rounding = reference_step(f, case, s, state, torch.float64)
            loss32, grads32, _, _ = reference_step(f, case, s, state, torch.float32)
            for name, exact in grads64.items():
                ours = group[f"steps/{s}/grad_sums"][name][:] / batch
                noise = relative(grads32[name], exact)
                limit = max(GRAD_FLOOR, min(2 * noise, NOISE_CAP), SF_ROUNDING_SIGMAS * sf_rounding * (name in encoder))
                error = relative(ours, exact)
                worst["grad"] = max(worst["grad"], error / limit)
                check(error <= limit, f"{case} step {s}: gradient of {name} vs float64", error, limit, quiet=True)
            error, noise = abs(group["loss"][s] - loss64) / abs(loss64), abs(loss32 - loss64) / abs(loss64)
            limit = max(LOSS_FLOOR, min(2 * noise, NOISE_CAP))
            worst["loss"] = max(worst["loss"], error / limit)
            check(error <= limit, f"{case} step {s}: loss vs float64", error, limit, quiet=True)
            if "sf_baseline" in state:
                # the moving average after step s, from the state before it and the step's mean BCE,
                # computed in double and stored in float as gsvae does; gsvae's BCE mean and the
                # dumped one are the same float sums divided once in double and once in float, so
                # they agree to a float ulp: 1e-6 relative
                total, weight = (float(v) for v in state["sf_baseline"])
                bce = float(group["bce"][s])
                expected = np.float32([sf_decay * total + (1 - sf_decay) * bce, sf_decay * weight + (1 - sf_decay)])
                after = group[f"steps/{s + 1}/params/sf_baseline"][:] if s + 1 < steps else group["final/sf_baseline"][:]
                error = float(np.max(np.abs(after - expected) / np.abs(expected)))
                check(error <= 1e-6, f"{case} step {s}: sf's moving average after the step", error, 1e-6, quiet=True)
        print(f"{case}: {steps} steps from gsvae's state: gradients within {worst['grad']:.2f} of their limit, "
              f"losses within {worst['loss']:.2f}")
    finish()


if __name__ == "__main__":
    main(sys.argv[1])
