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

  bench/estimators/authors_vae.py CHECKOUT/mnist_vae DATA_DIR EPOCHS SEED METHOD LR TAU C L [logits]
  e.g. bench/estimators/authors_vae.py ReinMax/mnist_vae /usr/share/datasets/fashion-mnist 40 0 reinmax 5e-4 1.3 8 4
"""
import gzip
import os
import sys
import time

import numpy as np
import torch

if len(sys.argv) not in (10, 11) or (len(sys.argv) == 11 and sys.argv[10] != "logits"):
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
bce_from_logits = len(sys.argv) == 11
if bce_from_logits:
    decoder = model.decoder

    def bce_of_logits(z, target):  # their Decoder.forward with the sigmoid folded into the BCE
        hidden = decoder.activation(decoder.fc2(decoder.activation(decoder.fc1(z))))
        return torch.nn.functional.binary_cross_entropy_with_logits(decoder.fc3(hidden), target, reduction="none")

    decoder.forward = bce_of_logits
optimizer = torch.optim.Adam(model.parameters(), lr=lr)
print(f"authors' VAE, {method}, {categories}x{latents}, lr {lr}, tau {tau}, seed {seed}, data {data_dir}"
      + (", BCE from the decoder's logits" if bce_from_logits else ""))
for epoch in range(1, epochs + 1):
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
    if epoch == 1 or epoch % 5 == 0:
        model.eval()
        test_total = 0.0
        with torch.no_grad():
            for i in range(0, len(test), 100):
                bce, kld, _, _ = model(test[i:i + 100])
                test_total += (bce + kld).item() * 100
        line += f" test {test_total / len(test):.3f}"
    print(line, flush=True)
