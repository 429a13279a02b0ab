"""Parity with PyTorch: runs tests/reference_model.py on parity_dump's initial weights, batches and
Gumbel noise, and checks gsvae's CPU backend against it: step 0's losses and every gradient
(relative 1e-5), the losses of 20 Adam steps, and the parameters after them."""
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_model import CategoricalVAE, make_optimizer  # noqa: E402

GRAD_TOLERANCE = 1e-5
LOSS_TOLERANCE = 1e-5
# Over 20 Adam steps float32 rounding is amplified: Adam normalises near-zero gradient entries to
# lr-sized steps, and a straight-through one-hot flips when logits + g are within rounding of a
# tie. So the 20-step losses and parameters are compared with PyTorch in float64 (the exact
# trajectory), and gsvae may be as far from it as PyTorch's own float32 run is, twice over, and
# never less than LOSS_TOLERANCE (losses) or UPDATE_TOLERANCE (parameter change, relative).
UPDATE_TOLERANCE = 1e-2

failures = []


def check(ok, what, value, limit):
    print(f"{what:<72} {value:10.3e} (limit {limit:.1e}) {'ok' if ok else 'FAILED'}")
    if not ok:
        failures.append(what)


def relative(a, b):
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)) /
                 max(np.linalg.norm(np.asarray(b, np.float64)), 1e-30))


def main(path):
    torch.set_num_threads(1)
    f = h5py.File(path, "r")
    input_dim, latents, categories, logits_relu = (int(v) for v in f.attrs["input_latents_categories_logits_relu"])
    hidden = tuple(int(v) for v in f.attrs["hidden"])
    lr, beta1, beta2, eps = (float(v) for v in f.attrs["lr_beta1_beta2_eps"])
    initial = {name: torch.from_numpy(f["params"][name][:]) for name in f["params"]}
    x = torch.from_numpy(f["data/x"][:])
    gumbel = torch.from_numpy(f["data/gumbel"][:])
    gumbel_unrelaxed = torch.from_numpy(f["data/gumbel_unrelaxed"][:])
    steps, batch = x.shape[0], x.shape[1]

    def run(case, dtype):
        """20 steps of the reference in dtype: per-step losses, final parameters, step 0's gradients."""
        group = f[case]
        tau, straight_through = float(group.attrs["tau"][0]), bool(group.attrs["straight_through"][0])
        model = CategoricalVAE(input_dim, hidden, latents, categories, bool(logits_relu)).to(dtype)
        model.load_state_dict(initial)
        optimizer = make_optimizer(model, lr, (beta1, beta2), eps)
        losses = {"relaxed": [], "unrelaxed": [], "bce": [], "kl": []}
        grads = {}
        for s in range(steps):
            optimizer.zero_grad(set_to_none=True)
            out = model(x[s].to(dtype), gumbel[s].to(dtype), tau, straight_through, gumbel_unrelaxed[s].to(dtype))
            out["loss"].backward()
            for key, name in (("relaxed", "loss"), ("unrelaxed", "unrelaxed"), ("bce", "bce"), ("kl", "kl")):
                losses[key].append(float(out[name]))
            if s == 0:
                grads = {name: param.grad.double().numpy() for name, param in model.named_parameters()}
            optimizer.step()
        final = {name: param.detach().double().numpy() for name, param in model.named_parameters()}
        return {key: np.array(value) for key, value in losses.items()}, final, grads

    def update_error(final_a, final_b):
        """Worst tensor's |change_a - change_b| / |change_b|, changes from the initial parameters."""
        worst = 0.0
        for name, start in initial.items():
            error = relative(final_a[name] - start.double().numpy(), final_b[name] - start.double().numpy())
            worst = error if not np.isfinite(error) else max(worst, error)
        return worst

    for case in ("gs_tau1", "gs_tau0.5", "st_tau1", "st_tau0.5"):
        group = f[case]
        losses32, final32, grads32 = run(case, torch.float32)
        losses64, final64, _ = run(case, torch.float64)
        for key in ("relaxed", "unrelaxed", "bce", "kl"):
            error = abs(group[key][0] - losses32[key][0]) / abs(losses32[key][0])
            check(error <= LOSS_TOLERANCE, f"{case}: step 0 {key} loss vs float32", error, LOSS_TOLERANCE)
        for name, grad in grads32.items():
            error = relative(group["grad_sums"][name][:] / batch, grad)
            check(error <= GRAD_TOLERANCE, f"{case}: step 0 gradient of {name} vs float32", error, GRAD_TOLERANCE)
        for key in ("relaxed", "unrelaxed"):
            ours = group[key][:].astype(np.float64)
            error = float(np.max(np.abs(ours - losses64[key]) / np.abs(losses64[key])))
            noise = float(np.max(np.abs(losses32[key] - losses64[key]) / np.abs(losses64[key])))
            limit = max(LOSS_TOLERANCE, 2 * noise)
            print(f"{case}: {key} losses: float32 PyTorch vs float64 {noise:.2e}, "
                  f"gsvae vs float32 {float(np.max(np.abs(ours - losses32[key]) / np.abs(losses32[key]))):.2e}")
            check(error <= limit, f"{case}: {key} losses of {steps} Adam steps vs float64 (largest)", error, limit)
        final_ours = {name: f[case]["final"][name][:].astype(np.float64) for name in initial}
        error, noise = update_error(final_ours, final64), update_error(final32, final64)
        limit = max(UPDATE_TOLERANCE, 2 * noise)
        check(error <= limit, f"{case}: parameter change after {steps} steps vs float64 (worst)", error, limit)
    if failures:
        print(f"{len(failures)} check(s) FAILED")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
