"""Whole epochs and whole runs of the seed setup for gsvae built on each BLAS library, run as
bench/cpu/bench_cpu.py runs gsvae (one process on every core, and 2 MPI ranks), the same command for
every build, repetitions interleaved over the builds; medians, and each build's times as ratios to
the first build's within the same repetition (this host's timings move ~30% between runs, much
less between neighbouring ones). OPENBLAS_CORETYPE is removed from the runs' environment, so that
OpenBLAS takes its own pick of kernels, its fastest here (bench/blas/results/blas_alternatives.md). --busy N
keeps N single-threaded busy loops running beside each run, as another job on a shared node would.
Writes a Markdown table.

A build may carry settings for its runs, LABEL=GSVAE_BIN,key=value,... (device.precision=bf16, say).

usage: bench_blas_epochs.py OUT.md LABEL=GSVAE_BIN[,key=value...]... [--reps 3] [--epochs 3] [--busy 0]
       [--command TEXT] (the command line the table names, when a script ran this one)
       [--title TEXT] (the table's heading)"""
import argparse
import os
import re
import statistics
import subprocess
import sys

environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}  # before bench_cpu's import
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cpu"))  # bench/cpu
from bench_cpu import run_gsvae  # noqa: E402

CONFIGS = ((1, "one process (the quick start)"), (2, "2 MPI ranks"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("builds", nargs="+", help="LABEL=GSVAE_BIN[,key=value...]; the first is the ratios' base")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--busy", type=int, default=0)
    parser.add_argument("--command")
    parser.add_argument("--title", default="gsvae on each BLAS library", help="the table's heading")
    args = parser.parse_args()
    builds = [b.split("=", 1) for b in args.builds]
    keys = {label: binary.split(",")[1:] for label, binary in builds}
    builds = [(label, binary.split(",")[0]) for label, binary in builds]
    blas = {label: re.search(r"^ *BLAS +(.*)$", subprocess.run([binary, "info"], capture_output=True, text=True,
                                                             check=True, env=environment).stdout, re.M).group(1)
            for label, binary in builds}  # the line BLAS alone: a CUDA build's cuBLAS line comes first
    # per (build, ranks): each repetition's mean epoch seconds, whole-run seconds, final test loss
    epoch, wall, test = ({(label, r): [] for label, _ in builds for r, _ in CONFIGS} for _ in range(3))
    for rep in range(args.reps):
        for ranks, _ in CONFIGS:
            for label, binary in builds:
                busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
                seconds, run_seconds, loss = run_gsvae(binary, args.epochs, ranks, "/tmp/gsvae-bench-blas", environment,
                                                       keys[label])
                for loop in busy:
                    loop.kill()
                    loop.wait()
                epoch[label, ranks].append(statistics.mean(seconds))
                wall[label, ranks].append(run_seconds)
                test[label, ranks].append(loss)
                print(f"rep {rep} {label} {ranks} rank(s): epochs " + ", ".join(f"{s:.1f}" for s in seconds) +
                      f" s, run {run_seconds:.1f} s", flush=True)
    base = builds[0][0]
    cpu = open("/proc/cpuinfo").read().split("model name")[1].split(":")[1].splitlines()[0].strip()
    lines = [
        f"# {args.title}: {args.epochs} epoch(s) of the seed setup"
        + (f", {args.busy} busy loop(s) beside it" if args.busy else ""), "",
        "Command: `" + (args.command or f"bench/blas/bench_blas_epochs.sh --reps {args.reps} --epochs {args.epochs}"
                        + (f" --busy {args.busy}" if args.busy else "")) + "` (runs "
        f"`bench/blas/bench_blas_epochs.py`), {os.cpu_count()} cores ({cpu}), OPENBLAS_CORETYPE unset, {args.reps} "
        "repetitions interleaved over the builds, medians. Epoch = training steps only, the mean of the run's epochs; "
        "whole run = process start to exit, data loading and the test pass after every epoch included. Ratios: "
        f"this build's time / {base}'s in the same repetition, median over the repetitions.", "",
        "| build | BLAS, kernels (`gsvae info`) | ranks | epoch s | whole run s | epoch / " + base +
        " | whole run / " + base + " | ms/step | final test loss |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for ranks, what in CONFIGS:
        for label, _ in builds:
            key = (label, ranks)
            ratio = lambda series: statistics.median(a / b for a, b in zip(series[key], series[base, ranks]))  # noqa: E731
            settings = " ".join(keys[label])
            lines.append(f"| {label} | {blas[label]}{' with ' + settings if settings else ''} | {what} | {statistics.median(epoch[key]):.2f} | "
                         f"{statistics.median(wall[key]):.1f} | {ratio(epoch):.3f} | {ratio(wall):.3f} | "
                         f"{statistics.median(epoch[key]) / 600 * 1e3:.1f} | {statistics.median(test[key]):.2f} |")
    lines += ["", "Per repetition (mean epoch seconds; whole run):", ""]
    for ranks, what in CONFIGS:
        for label, _ in builds:
            lines.append(f"- {label}, {what}: " + "; ".join(f"{e:.2f} ({w:.1f})" for e, w in
                                                              zip(epoch[label, ranks], wall[label, ranks])))
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
