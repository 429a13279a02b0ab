"""CPU benchmark at steady state: whole epochs and whole runs of the seed setup (batch 100, unrelaxed
pass on, test loss after every epoch) for gsvae as the quick start runs it (one process, every core)
and on 2 MPI ranks, the seed's PyTorch code as it is (tests/reference_model.py's training step and
test pass) and PyTorch with torch.set_flush_denormal(True); plus the step's matrix products alone,
the floor. Repetitions are interleaved; medians. Writes a Markdown table.

usage: bench_cpu.py GSVAE_BIN OUT.md [--reps 3] [--epochs 3]
       bench_cpu.py --pytorch-run EPOCHS FLUSH   (one PyTorch run; prints its epoch times as JSON)"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests"))  # its helpers
import openblas_env  # noqa: E402,F401  (before torch)
import numpy as np  # noqa: E402
import torch  # noqa: E402

import reference_model  # noqa: E402
from make_small_dataset import load_images  # noqa: E402

BATCH, SIZES = 100, [784, 512, 256, 300, 256, 512, 784]
CONFIGS = ("pytorch", "pytorch_flush", "gsvae_1process", "gsvae_2ranks")
LABELS = {
    "pytorch": "PyTorch, the seed's code as it is",
    "pytorch_flush": "PyTorch with torch.set_flush_denormal(True)",
    "gsvae_1process": "gsvae, one process (the quick start)",
    "gsvae_2ranks": "gsvae, 2 MPI ranks",
}


def pytorch_run(epochs, flush):
    """The seed's training loop: shuffled batches of 100, relaxed GS step with the unrelaxed loss,
    Adam, then the unrelaxed test loss; per-epoch training seconds (test pass excluded)."""
    torch.set_flush_denormal(flush)
    torch.manual_seed(0)
    train, test = load_images("train"), load_images("t10k")
    model = reference_model.CategoricalVAE()
    optimizer = reference_model.make_optimizer(model)
    seconds, losses = [], []
    for epoch in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(train.shape[0])
        for i in range(0, train.shape[0], BATCH):
            x = train[order[i:i + BATCH]]
            g, g2 = reference_model.gumbel_noise(x.shape[0:1] + (300,)), reference_model.gumbel_noise(x.shape[0:1] + (300,))
            reference_model.train_step(model, optimizer, x, g, 1.0, False, g2)
        seconds.append(time.perf_counter() - start)
        with torch.no_grad():
            total = 0.0
            for i in range(0, test.shape[0], BATCH):
                x = test[i:i + BATCH]
                logits = model.encode(x)
                a = model.decode(model.one_hot_sample(logits, reference_model.gumbel_noise(logits.shape)))
                bce, kl = model.per_sample_losses(x, a, logits)
                total += float((bce + kl).sum())
            losses.append(total / test.shape[0])
    print(json.dumps({"epoch_seconds": seconds, "test_loss": losses}))


def run_pytorch(epochs, flush):
    start = time.perf_counter()
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--pytorch-run", str(epochs), str(int(flush))],
                         capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - start
    result = json.loads(out.strip().splitlines()[-1])
    return result["epoch_seconds"], wall, result["test_loss"][-1]


def run_gsvae(binary, epochs, ranks, run_dir, env=None, keys=()):
    """Per-epoch training seconds from gsvae's epoch lines (evaluation excluded), and the whole
    run's wall time, loading and test passes included; env: the process's, or this one's; keys:
    further key=value settings."""
    # one process uses every core through its BLAS; 2 ranks under mpirun, one core each
    launcher = ["mpirun", "--allow-run-as-root", "-np", str(ranks)] if ranks > 1 else []
    command = [*launcher, binary, "train", f"train.epochs={epochs}", "run.log_every=600", f"run.dir={run_dir}",
               "run.resume=never", "run.ckpt_every=0", *keys]
    subprocess.run(["rm", "-rf", run_dir], check=True)
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    wall = time.perf_counter() - start
    epochs_seen = re.findall(r"^epoch \d+/\d+ .*\| test ([0-9.]+) \| ([0-9.]+) s$", out, re.M)
    return [float(s) for _, s in epochs_seen], wall, float(epochs_seen[-1][0])


def time_products(steps, threads):
    """The step's matrix products alone, float32 torch.mm: forward of the six layers twice (relaxed
    and unrelaxed pass), their weight gradients, the input gradients of all but the first."""
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    weights = [torch.from_numpy(rng.standard_normal((o, i), dtype=np.float32)) for i, o in zip(SIZES, SIZES[1:])]
    acts = [torch.from_numpy(rng.standard_normal((BATCH, s), dtype=np.float32)) for s in SIZES]

    def products():
        for _ in range(2):
            for layer, w in enumerate(weights):
                torch.mm(acts[layer], w.t())
        for layer, w in enumerate(weights):
            torch.mm(acts[layer + 1].t(), acts[layer])
            if layer > 0:
                torch.mm(acts[layer + 1], w)
    for _ in range(20):
        products()
    start = time.perf_counter()
    for _ in range(steps):
        products()
    return (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("gsvae")
    parser.add_argument("out")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    steps_per_epoch = 60000 // BATCH
    epochs, walls, tests = {c: [] for c in CONFIGS}, {c: [] for c in CONFIGS}, {c: [] for c in CONFIGS}
    floors = []
    for rep in range(args.reps):
        for config in CONFIGS:
            if config.startswith("pytorch"):
                seconds, wall, test = run_pytorch(args.epochs, config == "pytorch_flush")
            else:
                seconds, wall, test = run_gsvae(args.gsvae, args.epochs, 1 if config == "gsvae_1process" else 2,
                                                "/tmp/gsvae-bench")
            epochs[config].append(seconds)
            walls[config].append(wall)
            tests[config].append(test)
            print(f"rep {rep} {config}: epochs " + ", ".join(f"{s:.1f}" for s in seconds) + f" s, run {wall:.1f} s",
                  flush=True)
        floors.append(time_products(200, 2))
    median_epoch = {c: [statistics.median(r[e] for r in epochs[c]) for e in range(args.epochs)] for c in CONFIGS}
    median_wall = {c: statistics.median(walls[c]) for c in CONFIGS}
    floor_ms = statistics.median(floors) * 1e3
    base = "pytorch_flush"
    lines = [
        f"# CPU time at steady state: {args.epochs} epochs of the seed setup", "",
        f"Command: `bench/cpu/bench_cpu.sh --reps {args.reps} --epochs {args.epochs}` (runs `bench/cpu/bench_cpu.py`), "
        f"{os.cpu_count()} cores ({open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].splitlines()[0].strip()}), "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')} for both sides, PyTorch {torch.__version__} on its "
        f"default {torch.get_num_threads()} threads, {args.reps} interleaved repetitions, medians. Epoch = training "
        "steps only (the test pass after it is in the whole run); whole run = process start to exit, data loading "
        "and every test pass included.", "",
        "| what | " + " | ".join(f"epoch {e + 1} s" for e in range(args.epochs)) + " | last / first epoch | whole run s "
        f"| whole run, {LABELS[base]} / this | ms/step, last epoch | final test loss |",
        "|---|" + "---:|" * (args.epochs + 5),
    ]
    for c in CONFIGS:
        e = median_epoch[c]
        lines.append(f"| {LABELS[c]} | " + " | ".join(f"{s:.1f}" for s in e) + f" | {e[-1] / e[0]:.2f} | "
                     f"{median_wall[c]:.1f} | {median_wall[base] / median_wall[c]:.2f}x | "
                     f"{e[-1] / steps_per_epoch * 1e3:.1f} | {statistics.median(tests[c]):.2f} |")
    best = min(median_epoch["gsvae_1process"][-1], median_epoch["gsvae_2ranks"][-1]) / steps_per_epoch * 1e3
    lines += [
        "", f"The step's matrix products alone (torch.mm, 2 threads, 0.89 GFLOP): {floor_ms:.2f} ms/step. gsvae's "
        f"fastest step in the last epoch: {best:.2f} ms, {best / floor_ms:.2f}x that floor.", "",
        "Per repetition (epoch seconds; whole run):", "",
    ]
    for c in CONFIGS:
        lines.append(f"- {LABELS[c]}: " + "; ".join(" ".join(f"{s:.1f}" for s in r) + f" ({w:.1f})"
                                                      for r, w in zip(epochs[c], walls[c])))
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--pytorch-run":
        pytorch_run(int(sys.argv[2]), bool(int(sys.argv[3])))
    else:
        main()
