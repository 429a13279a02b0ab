"""Quality check of the seed setup on Fashion-MNIST: per-epoch train relaxed, train unrelaxed and
test loss of gsvae and of the PyTorch reference (tests/reference_model.py, its own init and noise)
over a few seeds, side by side with each side's spread. Writes a Markdown table.

usage: quality_cpu.py GSVAE_BIN OUT.md [--epochs 3] [--seeds 3]"""
import argparse, os, statistics, subprocess, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests"))  # its helpers
import openblas_env  # noqa: E402,F401  (before torch)
import h5py  # noqa: E402
import torch  # noqa: E402
import reference_model  # noqa: E402
from make_small_dataset import load_images  # noqa: E402

BATCH = 100


def pytorch_run(train, test, epochs, seed):
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    model = reference_model.CategoricalVAE()
    optimizer = reference_model.make_optimizer(model)
    rows = []
    for epoch in range(epochs):
        order = torch.randperm(train.shape[0])
        relaxed = unrelaxed = 0.0
        steps = train.shape[0] // BATCH
        for i in range(steps):
            x = train[order[i * BATCH:(i + 1) * BATCH]]
            out = reference_model.train_step(model, optimizer, x, reference_model.gumbel_noise((BATCH, 300)), 1.0,
                                             False, reference_model.gumbel_noise((BATCH, 300)))
            relaxed += out["loss"]
            unrelaxed += out["unrelaxed"]
        with torch.no_grad():
            total = 0.0
            for i in range(0, test.shape[0], 1000):
                x = test[i:i + 1000]
                logits = model.encode(x)
                a = model.decode(model.one_hot_sample(logits, reference_model.gumbel_noise(logits.shape)))
                bce, kl = model.per_sample_losses(x, a, logits)
                total += float((bce + kl).sum())
        rows.append((relaxed / steps, unrelaxed / steps, total / test.shape[0]))
        print(f"pytorch seed {seed} epoch {epoch + 1}: {rows[-1]}", flush=True)
    return rows


def gsvae_run(binary, epochs, seed):
    run_dir = f"/tmp/gsvae-quality-{seed}"
    subprocess.run(["rm", "-rf", run_dir], check=True)
    subprocess.run([binary, "train", "configs/seed.yaml", f"train.epochs={epochs}", f"train.seed={seed}",
                    f"run.dir={run_dir}", "run.log_every=600"], check=True, capture_output=True)
    with h5py.File(f"{run_dir}/run.h5", "r") as f:
        e = f["curves/epochs"]
        rows = list(zip(e["train_relaxed"][:], e["train_unrelaxed"][:], e["test_loss"][:]))
    print(f"gsvae seed {seed}: {rows}", flush=True)
    return rows


def cell(values):
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("gsvae")
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    train, test = load_images("train"), load_images("t10k")
    runs = {"gsvae": [gsvae_run(args.gsvae, args.epochs, s) for s in range(args.seeds)],
            "pytorch": [pytorch_run(train, test, args.epochs, s) for s in range(args.seeds)]}
    lines = [f"# Seed setup on Fashion-MNIST: gsvae vs the PyTorch reference, {args.epochs} epochs, {args.seeds} seeds", "",
             "Command: `bench/quality/quality_cpu.sh` (runs `bench/quality/quality_cpu.py`). Mean ± standard deviation over seeds "
             "0..{}; each side its own init and noise (the parity test checks same-weights-same-noise agreement "
             "to 1e-5; this checks that whole training runs land in the same place).".format(args.seeds - 1), "",
             "| epoch | metric | gsvae | PyTorch |", "|---:|---|---:|---:|"]
    names = ("train relaxed", "train unrelaxed", "test loss")
    for epoch in range(args.epochs):
        for m, name in enumerate(names):
            lines.append(f"| {epoch + 1} | {name} | " + " | ".join(
                cell([run[epoch][m] for run in runs[side]]) for side in ("gsvae", "pytorch")) + " |")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
