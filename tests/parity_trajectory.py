"""A free-running trajectory where it is well conditioned: parity_trajectory's 20 Adam steps of
the model code built in double against tests/reference_model.py in float64 from the same initial
parameters, batches and noise. In float32 such a trajectory amplifies last-bit differences (a ReLU
kink, an argmax near a tie, Adam's normalisation of a near-zero gradient entry) into lr-sized ones;
in double the rounding is 2^-53 = 1.1e-16, so a flip needs a margin below ~1e-13, which none of the
~4e6 decisions of 20 steps comes near, and Adam's normalisation of a gradient entry that cancels
to ~1e-16 of its terms is the one amplifier left.

usage: parity_trajectory.py TRAJECTORY.h5"""
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from reference_model import CategoricalVAE, make_optimizer, train_step  # noqa: E402

# Losses and the parameter change are compared relative to their size. Double rounding gives
# ~1e-15 per step; a modelling difference (a wrong formula, a wrong Adam detail such as the bias
# correction's step) gives >= 1e-4 within 20 steps. 1e-9 sits six orders of magnitude from both.
TOLERANCE = 1e-9




def main(path):
    torch.set_num_threads(1)
    f = h5py.File(path, "r")
    initial = {name: torch.from_numpy(f["initial"][name][:]).double() for name in f["initial"]}
    x, gumbel, gumbel_unrelaxed = (torch.from_numpy(f[k][:]).double() for k in ("x", "gumbel", "gumbel_unrelaxed"))
    for case in ("gs_tau1", "st_tau0.5"):
        group = f[case]
        tau, straight_through = float(group.attrs["tau"][0]), bool(group.attrs["straight_through"][0])
        model = CategoricalVAE().double()
        model.load_state_dict(initial)
        optimizer = make_optimizer(model)
        relaxed, unrelaxed = [], []
        for s in range(x.shape[0]):
            out = train_step(model, optimizer, x[s], gumbel[s], tau, straight_through, gumbel_unrelaxed[s])
            relaxed.append(out["loss"])
            unrelaxed.append(out["unrelaxed"])
        for key, theirs in (("relaxed", relaxed), ("unrelaxed", unrelaxed)):
            error = float(np.max(np.abs(group[key][:] - np.array(theirs)) / np.abs(np.array(theirs))))
            check(error <= TOLERANCE, f"{case}: {key} loss of each of {x.shape[0]} steps vs float64 (largest)", error,
                  TOLERANCE)
        final, offset, worst = group["final_flat"][:], 0, 0.0
        for name, value in model.state_dict().items():
            ours = final[offset:offset + value.numel()].reshape(value.shape)
            offset += value.numel()
            change = value.numpy() - initial[name].numpy()
            worst = max(worst, float(np.linalg.norm(ours - initial[name].numpy() - change) / np.linalg.norm(change)))
        check(worst <= TOLERANCE, f"{case}: parameter change after {x.shape[0]} steps (worst tensor)", worst, TOLERANCE)
    finish()


if __name__ == "__main__":
    main(sys.argv[1])
