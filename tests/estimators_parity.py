"""Parity of every estimator beyond gs/st with PyTorch: runs the estimators of
tests/estimators_reference.py (written from the papers; ReinMax the PyPI package) in the model of
tests/reference_model.py on estimators_dump's weights, batches and noise, step by step from the same
state with Adam, and checks gsvae's CPU backend against it: step 0's gradient of every tensor (log tau
too), every step's loss, and the parameter change after the steps."""
import math
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import estimators_reference as ref  # noqa: E402
from checks import check, finish, relative  # noqa: E402
from reference_model import CategoricalVAE, make_optimizer  # noqa: E402

# Each comparison is against the float64 reference (the exact computation on the float32 inputs);
# gsvae, in float32, may be as far from it as PyTorch's own float32 run is, twice over, and never
# less than the floor. Floors: a float32 gradient or loss summed over the batch's ~10^3-10^4 terms
# carries ~sqrt(n) 2^-24 ~ 1e-6 relative rounding, so 1e-5 is 10x that; the parameter change after
# Adam steps gets parity_check.py's 1e-2, as Adam divides near-zero gradient entries by their own
# size and turns rounding into lr-sized steps.
GRAD_FLOOR = 1e-5
LOSS_FLOOR = 1e-5
UPDATE_FLOOR = 1e-2
# sf's encoder gradient multiplies each score by (loss - baseline), a difference of per-row BCE sums
# over D pixels. Two float32 summation orders of such a sum differ by ~sqrt(D) 2^-24 |loss| (a
# random walk of roundings), so the gradient's relative error is that over |loss - baseline|: the
# limit is 3 times that RMS estimate (3 standard deviations), computed from the case's own losses.
SF_ROUNDING_SIGMAS = 3





def run(f, case, dtype):
    """The case's steps in dtype: per-step losses, step 0's gradients (means over the batch), final params."""
    group = f[case]
    input_dim, latents, categories, logits_relu = (int(v) for v in f.attrs["input_latents_categories_logits_relu"])
    hidden = tuple(int(v) for v in f.attrs["hidden"])
    lr, beta1, beta2, eps, sf_decay = (float(v) for v in f.attrs["lr_beta1_beta2_eps_sf_decay"])
    name = group.attrs["estimator"].decode() if isinstance(group.attrs["estimator"], bytes) else str(group.attrs["estimator"])
    _, samples, baseline_kind, learn_tau = (int(v) for v in group.attrs["estimator_samples_baseline_learn_tau"])
    tau0, gap = (float(v) for v in group.attrs["tau_gap"])
    model = CategoricalVAE(input_dim, hidden, latents, categories, bool(logits_relu)).to(dtype)
    model.load_state_dict({k: torch.from_numpy(group["initial"][k][:]) for k in model.state_dict()})
    log_tau = torch.nn.Parameter(torch.tensor(float(np.float32(math.log(tau0))), dtype=dtype)) if learn_tau else None
    optimizer = make_optimizer(model, lr, (beta1, beta2), eps)
    if learn_tau:
        optimizer.add_param_group({"params": [log_tau]})
    x_all = torch.from_numpy(f["x"][:]).to(dtype)
    gumbel_all = torch.from_numpy(group["gumbel"][:]).to(dtype)          # (steps, B, S, L*K)
    uniform_all = torch.from_numpy(group["conditional_uniform"][:]) if "conditional_uniform" in group else None
    steps, batch = x_all.shape[0], x_all.shape[1]
    ema = np.zeros(2, np.float32)  # the moving average's (sum, weight), stored in float32 as gsvae does
    losses, grads, sf_rounding = [], {}, 0.0
    for s in range(steps):
        optimizer.zero_grad(set_to_none=True)
        x = x_all[s]
        tau = torch.exp(log_tau) if learn_tau else tau0
        logits = model.encode(x).view(batch, latents, categories)
        gumbel = gumbel_all[s].view(batch, -1, latents, categories)
        if name == "sf":
            hard = ref.sample_one_hot(logits.unsqueeze(1), gumbel)                     # (B, S, L, K)
            a = model.decode(hard.reshape(batch * samples, latents * categories))
            x_rows = x.unsqueeze(1).expand(batch, samples, input_dim).reshape(batch * samples, input_dim)
            bce_rows = torch.nn.functional.binary_cross_entropy_with_logits(a, x_rows, reduction="none").sum(1)
            bce_rows = bce_rows.view(batch, samples)
            if baseline_kind == 1:
                baseline = ref.leave_one_out_baseline(bce_rows.detach())
            else:
                value = float(np.float32(ema[0] / ema[1])) if ema[1] > 0 else 0.0
                baseline = torch.full_like(bce_rows, value)
            bce = bce_rows.mean(dim=1)
            if s == 0:
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
                e = -torch.log(uniform_all[s].view(batch, -1, latents, categories)).to(dtype)
                z = ref.gumbel_rao(logits, g, e, tau)
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
        loss = (bce + kl + surrogate).mean()
        loss.backward()
        losses.append(float((bce + kl).mean()))
        if s == 0:
            grads = {k: p.grad.double().numpy() for k, p in model.named_parameters()}
            if learn_tau:
                grads["log_tau"] = np.array([float(log_tau.grad)])
        optimizer.step()
        if name == "sf" and baseline_kind == 0:  # after the step that used the old value
            mean = float(bce.detach().mean())
            ema[0] = np.float32(sf_decay * float(ema[0]) + (1 - sf_decay) * mean)
            ema[1] = np.float32(sf_decay * float(ema[1]) + (1 - sf_decay))
    final = {k: p.detach().double().numpy() for k, p in model.named_parameters()}
    if learn_tau:
        final["log_tau"] = np.array([float(log_tau)])
    return np.array(losses), grads, final, sf_rounding


def main(path):
    torch.set_num_threads(1)
    f = h5py.File(path, "r")
    for case in f:
        if not isinstance(f[case], h5py.Group):
            continue
        group = f[case]
        losses32, grads32, final32, _ = run(f, case, torch.float32)
        losses64, grads64, final64, sf_rounding = run(f, case, torch.float64)
        batch = f["x"].shape[1]
        for name, exact in grads64.items():
            ours = group["grad_sums"][name][:] / batch
            noise = relative(grads32[name], exact)
            limit = max(GRAD_FLOOR, 2 * noise, SF_ROUNDING_SIGMAS * sf_rounding)
            check(relative(ours, exact) <= limit, f"{case}: step 0 gradient of {name} vs float64", relative(ours, exact),
                  limit)
        ours = group["loss"][:].astype(np.float64)
        error = float(np.max(np.abs(ours - losses64) / np.abs(losses64)))
        noise = float(np.max(np.abs(losses32 - losses64) / np.abs(losses64)))
        limit = max(LOSS_FLOOR, 2 * noise)
        check(error <= limit, f"{case}: losses of {len(ours)} Adam steps vs float64 (largest)", error, limit)
        initial = {name: group["initial"][name][:].astype(np.float64) for name in final64}
        worst_ours = worst_noise = 0.0
        for name in final64:
            ours_change = group["final"][name][:].astype(np.float64) - initial[name]
            worst_ours = max(worst_ours, relative(ours_change, final64[name] - initial[name]))
            worst_noise = max(worst_noise, relative(final32[name] - initial[name], final64[name] - initial[name]))
        limit = max(UPDATE_FLOOR, 2 * worst_noise)
        check(worst_ours <= limit, f"{case}: parameter change after the steps vs float64 (worst tensor)", worst_ours,
              limit)
    finish()


if __name__ == "__main__":
    main(sys.argv[1])
