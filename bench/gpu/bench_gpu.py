"""The GPU benchmark (run by bench/gpu/bench_gpu.sh on a GPU machine): the seed's model in PyTorch,
eager and under torch.compile(mode="reduce-overhead") (CUDA graphs), against gsvae's CUDA backend
(bench/gpu/gpu_bench.c), same config, at several batch sizes: ms per step and ratios, plus the time
of the step's matrix products alone through cuBLAS. With --gsvae and --data, also one epoch of the
seed setup on CPU and GPU, same seed, losses side by side. Writes markdown to --out.

The PyTorch model is written inline here (tests/reference_model.py was not there when this was
written): encoder 784-512-256-L*K with ReLU on every layer, Gumbel-Softmax at tau=1, decoder
L*K-256-512-784, BCE-with-logits summed over pixels + KL(q||uniform), averaged over the batch;
Adam lr 1e-3; the unrelaxed objective (hard sample, fresh noise, no gradient) every step. Data
sits on the GPU in both (gsvae gathers and binarizes on the GPU; PyTorch indexes a GPU tensor)."""
import argparse
import re
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

L, K, D = 30, 10, 784


class SeedVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(D, 512), nn.Linear(512, 256), nn.Linear(256, L * K)
        self.fc4, self.fc5, self.fc6 = nn.Linear(L * K, 256), nn.Linear(256, 512), nn.Linear(512, D)

    def decode(self, z):
        return self.fc6(F.relu(self.fc5(F.relu(self.fc4(z)))))

    def forward(self, x, tau):
        logits = F.relu(self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))).view(-1, L, K)
        log_q = F.log_softmax(logits, -1)
        kl = (log_q.exp() * (log_q + torch.log(torch.tensor(float(K), device=x.device)))).sum((1, 2))
        z = F.gumbel_softmax(logits, tau=tau, hard=False).view(-1, L * K)
        bce = F.binary_cross_entropy_with_logits(self.decode(z), x, reduction="none").sum(1)
        relaxed = (bce + kl).mean()
        with torch.no_grad():
            g = -torch.log(-torch.log(torch.rand_like(logits).clamp_(1e-7, 1 - 1e-7)))
            hard = F.one_hot((logits + g).argmax(-1), K).float().view(-1, L * K)
            bce_hard = F.binary_cross_entropy_with_logits(self.decode(hard), x, reduction="none").sum(1)
            unrelaxed = (bce_hard + kl).mean()
        return relaxed, unrelaxed


def pytorch_stepper(batch, compiled, images=60000):
    """The seed's training step at `batch`, warmed up (and compiled); returns timed(steps) -> ms/step."""
    torch.manual_seed(0)
    device = torch.device("cuda")
    model = SeedVAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = (torch.rand(images, D, device=device) > 0.5).float()
    loss_fn = torch.compile(model, mode="reduce-overhead") if compiled else model
    opt_step = torch.compile(optimizer.step) if compiled else optimizer.step
    full = images // batch
    counter = [0]

    def step():
        i = counter[0]
        counter[0] += 1
        x = data[(i % full) * batch:(i % full + 1) * batch]
        if compiled:  # each iteration replays the graphs anew; last step's outputs are not read again
            torch.compiler.cudagraph_mark_step_begin()
        relaxed, unrelaxed = loss_fn(x, 1.0)
        optimizer.zero_grad()
        relaxed.backward()
        opt_step()

    for _ in range(30 if compiled else 10):
        step()
    torch.cuda.synchronize()

    def timed(steps):
        started = time.perf_counter()
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
        return 1e3 * (time.perf_counter() - started) / steps

    return timed


def run_gsvae(bench, batch, steps, extra):
    out = subprocess.run([bench, str(batch), str(steps)] + extra, capture_output=True, text=True, check=True).stdout
    fields = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', out))
    return float(fields["ms_per_step"]), float(fields["gemm_ms_per_step"]), fields["gpu"].strip('"')


def epoch_parity(gsvae, data, run_root):
    rows = []
    for backend in ("cpu", "cuda"):
        cmd = [gsvae, "train", f"data.dir={data}", "train.epochs=1", f"device.backend={backend}",
               f"run.dir={run_root}/epoch_{backend}", "run.log_every=100"]
        started = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        seconds = time.perf_counter() - started
        m = re.search(r"train relaxed (\S+) \| train unrelaxed (\S+) \| test (\S+)", out)
        rows.append((backend, m.group(1), m.group(2), m.group(3), seconds, " ".join(cmd)))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bench", required=True, help="the build dir's bench/gpu_bench")
    parser.add_argument("--out", default="bench/gpu/results/gpu_bench.md")
    parser.add_argument("--batches", default="100,1024,8192")
    parser.add_argument("--steps", type=int, default=600, help="timed steps per repetition (600: an epoch at batch 100)")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions; the table shows medians")
    parser.add_argument("--gsvae", help="the gsvae binary, for the epoch parity run")
    parser.add_argument("--data", help="MNIST-layout data dir, for the epoch parity run")
    parser.add_argument("--run-root", default="/tmp/gsvae_bench_runs")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA device visible to PyTorch; nothing to measure")
        return 77
    batches = [int(b) for b in args.batches.split(",")]
    rows, gpu = [], torch.cuda.get_device_name(0)
    for batch in batches:
        eager_timed, compiled_timed = pytorch_stepper(batch, compiled=False), pytorch_stepper(batch, compiled=True)
        runs = []  # the four timings interleaved, rep after rep, so that drifts hit all alike
        for _ in range(args.reps):
            ours, gemm, gpu = run_gsvae(args.bench, batch, args.steps, [])
            ours_tf32, gemm_tf32, _ = run_gsvae(args.bench, batch, args.steps, ["device.precision=tf32"])
            runs.append((eager_timed(args.steps), compiled_timed(args.steps), ours, ours_tf32, gemm, gemm_tf32))
        eager, compiled, ours, ours_tf32, gemm, gemm_tf32 = (statistics.median(column) for column in zip(*runs))
        rows.append((batch, eager, compiled, ours, ours_tf32, gemm, gemm_tf32))
        spread = max(r[2] for r in runs) / min(r[2] for r in runs)
        print(f"batch {batch}: eager {eager:.3f} ms, compiled {compiled:.3f} ms, gsvae {ours:.3f} ms "
              f"(tf32 {ours_tf32:.3f}), cuBLAS products alone {gemm:.3f} ms (tf32 {gemm_tf32:.3f}); "
              f"gsvae max/min over {args.reps} reps {spread:.2f}", flush=True)
    lines = [
        "# GPU benchmark: gsvae vs the seed's PyTorch model",
        "",
        f"GPU: {gpu}; PyTorch {torch.__version__}; medians of {args.reps} interleaved repetitions of {args.steps} "
        "timed steps each, after warm-up; fp32 unless marked.",
        f"Command: `{' '.join(sys.argv)}` (via bench/gpu/bench_gpu.sh)",
        "",
        "| batch | PyTorch eager ms | torch.compile (reduce-overhead) ms | gsvae ms | eager / gsvae | compiled / gsvae "
        "| gsvae tf32 ms | cuBLAS products alone ms (fp32 / tf32) | gsvae rate / cuBLAS rate (fp32 / tf32) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for batch, eager, compiled, ours, ours_tf32, gemm, gemm_tf32 in rows:
        lines.append(f"| {batch} | {eager:.3f} | {compiled:.3f} | {ours:.3f} | {eager / ours:.1f}x | {compiled / ours:.1f}x "
                     f"| {ours_tf32:.3f} | {gemm:.3f} / {gemm_tf32:.3f} | {gemm / ours:.2f} / {gemm_tf32 / ours_tf32:.2f} |")
    lines += ["", "Targets (issue 4): batch 100 at least 20x eager and 3x compiled; at 8192 a gsvae rate of at "
              "least half the cuBLAS-products-alone rate (last column >= 0.5).",
              "The PyTorch model is inline in bench/gpu/bench_gpu.py (the seed's architecture and loss; see its docstring)."]
    if args.gsvae and args.data:
        lines += ["", "## One epoch of the seed setup, CPU vs GPU (same seed)", "",
                  "| backend | train relaxed | train unrelaxed | test loss | wall s | command |", "|---|---|---|---|---|---|"]
        for backend, relaxed, unrelaxed, test, seconds, cmd in epoch_parity(args.gsvae, args.data, args.run_root):
            lines.append(f"| {backend} | {relaxed} | {unrelaxed} | {test} | {seconds:.1f} | `{cmd}` |")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
