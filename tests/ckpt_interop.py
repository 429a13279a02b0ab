"""Interop: a checkpoint's /params loaded with h5py into tests/reference_model.py's PyTorch model
gives the test loss gsvae logged in that checkpoint's curves (the unrelaxed loss of the test set
on the same images and evaluation noise, dumped by ckpt_eval_inputs), within 1e-5 relative."""
import os, subprocess, sys
import torch
from ckpt_common import *

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_model import CategoricalVAE  # noqa: E402

eval_inputs = sys.argv[5]
run_dir = fresh_dir("run")
train(run_dir, ["run.resume=never", "data.binarize=none", "train.epochs=2"])
path = os.path.join(run_dir, "ckpt", "step_00000020.h5")
with h5py.File(path, "r") as f:
    state = {name: torch.from_numpy(f["params"][name][:]) for name in f["params"]}
    logged = float(f["curves/epochs/test_loss"][-1])
inputs = os.path.join(WORK, "eval_inputs.h5")
subprocess.run([eval_inputs, DATA_DIR, "11", str(8 * 4), inputs], check=True)
with h5py.File(inputs, "r") as f:
    x, gumbel = torch.from_numpy(f["x"][:]), torch.from_numpy(f["gumbel"][:])

model = CategoricalVAE(hidden=(64, 32), latents=8, categories=4)
model.load_state_dict(state)  # strict: names and shapes must be the state_dict's
with torch.no_grad():
    logits = model.encode(x)
    bce, kl = model.per_sample_losses(x, model.decode(model.one_hot_sample(logits, gumbel)), logits)
    loss = float((bce.double() + kl.double()).mean())
# Both float32 on the same parameters, images and noise: each sample's loss a sum of ~800 terms in
# another order (~1e-6 relative apart at most); an argmax of the one-hot sample at a tie within that
# rounding would move one of the 32 samples by ~1e-4 of its loss, ~3e-6 of the mean. 1e-5 covers
# both (seen 1.6e-9); a wrong tensor, layout or transpose moves the loss by 1e-2 and more.
error = abs(loss - logged) / abs(logged)
print(f"test loss: gsvae {logged:.6f}, PyTorch on the checkpoint's params {loss:.6f}, relative {error:.1e}")
if not error <= 1e-5:
    sys.exit("the PyTorch loss on the checkpoint's parameters differs from gsvae's")
