#!/usr/bin/env python3
"""The ReinMax authors' MNIST-VAE (their mnist_vae/model/vae.py, imported unchanged from a checkout
of LiyuanLucasLiu/ReinMax) trained as their gumbel_softmax_vae.py trains it: batch 100, shuffled,
Adam, the loss bce + kld their model returns, its epoch mean printed as their "Average loss".
The data are read from MNIST-layout IDX files (gzipped or not) rather than through torchvision,
which Debian does not package, as grey levels in [0, 1] (their ToTensor()). One thread. The test
loss (one sample per image, their model's forward) every 5 epochs. For setting gsvae's runs of
configs/reinmax/CxL.yaml beside the authors' own code on the same data.

With a tenth argument `logits`, the decoder's BCE is taken from its logits
(binary_cross_entropy_with_logits, as gsvae computes it) instead of their
binary_cross_entropy(sigmoid(.)), which clamps each log at -100 and gives a pixel whose sigmoid
rounds to 0 or 1 no gradient: the one place their model's loss differs from gsvae's.

With `from=CKPT`, a gsvae checkpoint of the same shape (configs/reinmax/CxL.yaml) gives the
starting state: its /params as the weights (gsvae's fc1..fc3 are their encoder's, fc4..fc6 their
decoder's; both store [out, in]) and its /optimizer moments and step count as Adam's state, so
that their code and gsvae continue from one state and their trajectories can be set side by side.
EPOCHS then counts the epochs run after the checkpoint's. With `into=CKPT`, the other way: the state
at the end is written into CKPT, a copy of a gsvae checkpoint of the same shape and epoch made
beforehand (its params and optimizer moments replaced, its checksum recomputed as
src/train/checkpoint.c computes it), for gsvae to resume from (run.resume=auto).

  bench/estimators/authors_vae.py CHECKOUT/mnist_vae DATA_DIR EPOCHS SEED METHOD LR TAU C L [logits] [from=CKPT] [into=CKPT]
  e.g. bench/estimators/authors_vae.py ReinMax/mnist_vae /usr/share/datasets/fashion-mnist 40 0 reinmax 5e-4 1.3 8 4
"""
import gzip
import os
import re
import sys
import time
import zlib

import h5py
import numpy as np
import torch

options = sys.argv[10:]
checkpoint = next((o[len("from="):] for o in options if o.startswith("from=")), None)
checkpoint_out = next((o[len("into="):] for o in options if o.startswith("into=")), None)
bce_from_logits = "logits" in options
if len(sys.argv) < 10 or len(options) != bce_from_logits + (checkpoint is not None) + (checkpoint_out is not None):
    sys.exit(__doc__)
authors_dir, data_dir = sys.argv[1], sys.argv[2]
epochs, seed, method = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
lr, tau, categories, latents = float(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])
sys.path.insert(0, authors_dir)
from model.vae import VAE  # noqa: E402  (the authors' module)

torch.set_num_threads(1)


def images(stem):
    names = [f for f in os.listdir(data_dir) if f.startswith(stem)]
    if not names:
        sys.exit(f"authors_vae.py: no {stem}* file in {data_dir}")
    path = os.path.join(data_dir, names[0])
    raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    return torch.from_numpy(np.frombuffer(raw, np.uint8, offset=16).astype(np.float32).reshape(-1, 784) / 255.0)


train, test = images("train-images"), images("t10k-images")
torch.manual_seed(seed)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(train), batch_size=100, shuffle=True)
model = VAE(latent_dim=latents, categorical_dim=categories, temperature=tau, method=method)
if bce_from_logits:
    decoder = model.decoder

    def bce_of_logits(z, target):  # their Decoder.forward with the sigmoid folded into the BCE
        hidden = decoder.activation(decoder.fc2(decoder.activation(decoder.fc1(z))))
        return torch.nn.functional.binary_cross_entropy_with_logits(decoder.fc3(hidden), target, reduction="none")

    decoder.forward = bce_of_logits
optimizer = torch.optim.Adam(model.parameters(), lr=lr)
first_epoch = 1
layers = [model.encoder.fc1, model.encoder.fc2, model.encoder.fc3,
          model.decoder.fc1, model.decoder.fc2, model.decoder.fc3]
tensor_names = [(f"fc{i + 1}.{name}", getattr(layer, name)) for i, layer in enumerate(layers) for name in ("weight", "bias")]


def check_shape(f, path):
    """8x4 and 4x8 give tensors of one shape: the checkpoint's config says which it is."""
    config = f.attrs["config"].decode()
    shape = [re.search(rf"^  {key}: (\d+)$", config, re.M) for key in ("categories", "latents")]
    if [int(m.group(1)) if m else None for m in shape] != [categories, latents] or any(
            f["params"][key].shape != parameter.shape for key, parameter in tensor_names):
        sys.exit(f"authors_vae.py: {path}: not a gsvae run of {latents} variables of {categories} classes"
                 f" (model.latents={latents}, model.categories={categories}, hidden [512, 256])")


if checkpoint is not None:
    with h5py.File(checkpoint, "r") as f:
        step, first_epoch = int(f.attrs["step"]), int(f.attrs["epoch"]) + 1
        check_shape(f, checkpoint)
        for key, parameter in tensor_names:
            with torch.no_grad():
                parameter.copy_(torch.from_numpy(f["params"][key][...]))
            optimizer.state[parameter] = {
                "step": torch.tensor(float(step)),
                "exp_avg": torch.from_numpy(f["optimizer/exp_avg"][key][...]),
                "exp_avg_sq": torch.from_numpy(f["optimizer/exp_avg_sq"][key][...])}


def test_loss():
    model.eval()
    test_total = 0.0
    with torch.no_grad():
        for i in range(0, len(test), 100):
            bce, kld, _, _ = model(test[i:i + 100])
            test_total += (bce + kld).item() * 100
    return test_total / len(test)


print(f"authors' VAE, {method}, {categories}x{latents}, lr {lr}, tau {tau}, seed {seed}, data {data_dir}"
      + (", BCE from the decoder's logits" if bce_from_logits else "")
      + (f", from {checkpoint} (epoch {first_epoch - 1}, test {test_loss():.3f} as loaded)" if checkpoint else ""))
for epoch in range(first_epoch, first_epoch + epochs):
    model.train()
    total, start = 0.0, time.time()
    for (x,) in loader:
        bce, kld, _, _ = model(x)
        loss = bce + kld
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(x)
    line = f"epoch {epoch} train {total / len(train):.3f} ({time.time() - start:.1f} s)"
    if epoch == first_epoch or epoch % 5 == 0:
        line += f" test {test_loss():.3f}"
    print(line, flush=True)

last_epoch = first_epoch + epochs - 1
if checkpoint_out is not None:
    def crc_of_columns(crc, group, columns):  # curves.c's column order, each as the doubles it holds
        for column in columns:
            crc = zlib.crc32(np.asarray(group[column][...], np.float64).tobytes(), crc)
        return crc

    with h5py.File(checkpoint_out, "r+") as f:
        step = int(optimizer.state[layers[0].weight]["step"].item())
        check_shape(f, checkpoint_out)
        if int(f.attrs["epoch"]) != last_epoch or int(f.attrs["step"]) != step:
            sys.exit(f"authors_vae.py: {checkpoint_out}: a checkpoint of epoch {int(f.attrs['epoch'])}, step"
                     f" {int(f.attrs['step'])}; this run ended at epoch {last_epoch}, step {step}")
        crc = 0  # checkpoint.c: params, exp_avg, exp_avg_sq in layout order (each layer's weight, bias)
        for group, state in (("params", None), ("optimizer/exp_avg", "exp_avg"), ("optimizer/exp_avg_sq", "exp_avg_sq")):
            for key, parameter in tensor_names:
                value = (parameter if state is None else optimizer.state[parameter][state]).detach().numpy()
                f[group][key][...] = value
                crc = zlib.crc32(np.ascontiguousarray(value, np.float32).tobytes(), crc)
        crc = crc_of_columns(crc, f["curves/steps"], ["step", "epoch", "tau", "relaxed", "unrelaxed", "bce", "kl", "skipped"])
        crc = crc_of_columns(crc, f["curves/epochs"], ["epoch", "train_relaxed", "train_unrelaxed", "test_loss"])
        sums = np.concatenate([f.attrs["interval_sums"], f.attrs["epoch_sums"]]).astype(np.float64)
        f.attrs.modify("checksum", np.uint32(zlib.crc32(sums.tobytes(), crc)))
    print(f"wrote the state at epoch {last_epoch} into {checkpoint_out}")
