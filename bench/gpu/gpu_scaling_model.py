#!/usr/bin/env python3
"""Data-parallel scaling of the seed model over N GPUs, modelled from one GPU's measured step time
(bench/gpu/results/gpu_bench.md, written by bench/gpu/bench_gpu.sh) and the bytes each step moves. No overlap
is assumed: gsvae's step graph starts the reduction after the last chunk's backward.

  bench/gpu/gpu_scaling_model.py [--bench bench/gpu/results/gpu_bench.md] [--out bench/gpu/results/gpu_scaling.md]
                              [--nvlink-gbs 460] [--ib-gbs 400] [--nvlink-latency-us 15]
                              [--ib-latency-us 50]

Per step each rank sends, in gsvae's reduction (grouped ncclSend/ncclRecv: every rank's gradient
shards to their owners, then every owner's parameter shard to the others), (N-1)/N of the flat
gradient in the reduce-scatter and (N-1)/N of the parameters in the all-gather: the same bytes per
rank as a ring all-reduce. A phase takes latency + bytes / bus bandwidth. Bandwidths are NCCL's
large-message bus bandwidths as published for 8xH100 SXM over NVLink/NVSwitch (nccl-tests
all_reduce_perf busbw, 460-480 GB/s) and for H100 nodes over 8x400 Gb/s InfiniBand NDR (400-450
GB/s); a step's 4.9 MB reaches less than that, so each table is also given at half those rates.
The latencies are assumptions (a grouped send/receive to up to N-1 peers per phase), options
here: put in what nccl-tests measures on your cluster."""
import argparse
import re

# the seed's layers (configs/seed.yaml): 784-512-256-L*K | L*K-256-512-784, L*K = 300
LAYERS = [(784, 512), (512, 256), (256, 300), (300, 256), (256, 512), (512, 784)]
PARAMS = sum(i * o + o for i, o in LAYERS)
TRAIN_IMAGES = 60000  # Fashion-MNIST: a global batch beyond this is more than an epoch per step


def measured_steps(path):
    """(batch, gsvae fp32 ms per step) rows of the benchmark's table."""
    rows = []
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"\d+", cells[0]):
            rows.append((int(cells[0]), float(cells[3])))
    if len(rows) < 2:
        raise SystemExit(f"{path}: expected the benchmark's table with at least two batch sizes")
    return sorted(rows)


def step_ms(rows, batch):
    """Piecewise linear in the batch between measured points; below the smallest, its time
    (a step there is launch-bound); above the largest, its slope carried on."""
    if batch <= rows[0][0]:
        return rows[0][1]
    for (b0, t0), (b1, t1) in zip(rows, rows[1:]):
        if batch <= b1:
            return t0 + (t1 - t0) * (batch - b0) / (b1 - b0)
    (b0, t0), (b1, t1) = rows[-2], rows[-1]
    return t1 + (t1 - t0) * (batch - b1) / (b1 - b0)


def comm_ms(gpus, gbs, latency_us):
    if gpus == 1:
        return 0.0
    phase_bytes = (gpus - 1) / gpus * PARAMS * 4
    return 2 * (latency_us * 1e-3 + phase_bytes / (gbs * 1e9) * 1e3)


def smallest_batch(rows, gpus, gbs, latency_us, target):
    """The smallest per-GPU batch whose efficiency reaches target, or None below 2^20."""
    comm = comm_ms(gpus, gbs, latency_us)
    batch = 1
    while batch < 1 << 20:
        compute = step_ms(rows, batch)
        if compute / (compute + comm) >= target:
            return batch
        batch += max(1, batch // 64)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", default="bench/gpu/results/gpu_bench.md")
    parser.add_argument("--out", default="bench/gpu/results/gpu_scaling.md")
    parser.add_argument("--nvlink-gbs", type=float, default=460.0)
    parser.add_argument("--ib-gbs", type=float, default=400.0)
    parser.add_argument("--nvlink-latency-us", type=float, default=15.0)
    parser.add_argument("--ib-latency-us", type=float, default=50.0)
    parser.add_argument("--target", type=float, default=0.9)
    args = parser.parse_args()
    rows = measured_steps(args.bench)
    fabrics = [(8, "8 GPUs, one node, NVLink", args.nvlink_gbs, args.nvlink_latency_us),
               (64, "64 GPUs, 8 nodes, InfiniBand", args.ib_gbs, args.ib_latency_us)]
    lines = [
        "# Data-parallel scaling of the seed model over N GPUs (a model, from one GPU's measurements)",
        "",
        f"Command: `bench/gpu/gpu_scaling_model.py --bench {args.bench} --out {args.out}` "
        f"(bandwidths {args.nvlink_gbs:g} / {args.ib_gbs:g} GB/s, latencies {args.nvlink_latency_us:g} / "
        f"{args.ib_latency_us:g} µs per phase; the docstring gives the sources and assumptions).",
        "",
        f"Measured, one H100, fp32 (from {args.bench}): " +
        ", ".join(f"batch {b}: {t:.3f} ms/step" for b, t in rows) + ".",
        f"Moved per step and rank: (N-1)/N of {PARAMS:,} floats ({PARAMS * 4 / 1e6:.2f} MB) in the "
        "reduce-scatter and again in the all-gather; reduction not overlapped with the backward.",
        "",
        "| GPUs | fabric | bus GB/s | comm ms/step | per-GPU batch for 90% | global batch | "
        "efficiency at a global batch of 60000 (one step an epoch) |",
        "|---|---|---|---|---|---|---|",
    ]
    needed = {}
    for gpus, fabric, gbs, latency in fabrics:
        for scale, label in ((1.0, ""), (0.5, " (half)")):
            comm = comm_ms(gpus, gbs * scale, latency)
            batch = smallest_batch(rows, gpus, gbs * scale, latency, args.target)
            needed.setdefault(gpus, []).append(batch * gpus)
            per_gpu_epoch = TRAIN_IMAGES // gpus
            at_epoch = step_ms(rows, per_gpu_epoch) / (step_ms(rows, per_gpu_epoch) + comm)
            lines.append(f"| {gpus} | {fabric} | {gbs * scale:g}{label} | {comm:.3f} | {batch} | "
                         f"{batch * gpus:,} | {100 * at_epoch:.0f}% (per-GPU batch {per_gpu_epoch}) |")
    seed_share = comm_ms(8, args.nvlink_gbs, args.nvlink_latency_us)
    seed_share /= seed_share + step_ms(rows, 100)
    latency_share = 2 * args.ib_latency_us * 1e-3 / comm_ms(64, args.ib_gbs, args.ib_latency_us)
    lines += [
        "",
        f"Reading: at 8 GPUs over NVLink, global batches from {min(needed[8]):,} to {max(needed[8]):,} "
        f"keep {100 * args.target:.0f}%; the seed's batch of 100 per GPU would spend "
        f"{100 * seed_share:.0f}% of each step communicating. At 64 GPUs over InfiniBand the assumed latency "
        f"is {100 * latency_share:.0f}% of the exchange: {100 * args.target:.0f}% needs global batches from "
        f"{min(needed[64]):,} to {max(needed[64]):,}"
        + (f", beyond the {TRAIN_IMAGES:,} training images of Fashion-MNIST (a step would be more than "
           "an epoch): models of this size are one-GPU work, and 64 GPUs pay for larger models or data, or "
           "for many independent runs (`gsvae sweep` groups) rather than one wide one."
           if min(needed[64]) > TRAIN_IMAGES else "."),
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
