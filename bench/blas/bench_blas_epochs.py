"""Whole epochs and whole runs of the seed setup for gsvae built on each BLAS library, run as
bench/cpu/bench_cpu.py runs gsvae (one process on every core, and 2 MPI ranks), the same command for
every build, repetitions interleaved over the builds; medians, and each build's times as ratios to
the first build's within the same repetition (this host's timings move ~30% between runs, much
less between neighbouring ones). OPENBLAS_CORETYPE is removed from the runs' environment, so that
OpenBLAS takes its own pick of kernels, its fastest here (bench/blas/results/blas_alternatives.md). --busy N
keeps N single-threaded busy loops running beside each run, as another job on a shared node would.
Writes a Markdown table.

A build may carry settings for its runs, LABEL=GSVAE_BIN,key=value,... (device.precision=bf16, say).

--avx2 runs everything on the libraries' AVX2 code, as a CPU without AVX-512 would (AVX2_PATHS:
oneDNN, OpenBLAS and BLIS capped at AVX2, glibc's AVX-512 variants hidden), OPENBLAS_CORETYPE
included.

--floor DIR (bench/blas/build_benches.sh's binaries) also times the step's products alone through
each library at the machine's thread count before the first run and after every run, and sets each
run's step against the faster of the two floors around it: this host's speed drifts by tens of
percent within a command, so a floor taken minutes away says little about a given run. Each run's
epochs are set against its first too, beside how far the floor moved over the same run.

usage: bench_blas_epochs.py OUT.md LABEL=GSVAE_BIN[,key=value...]... [--reps 3] [--epochs 3] [--busy 0]
       [--command TEXT] (the command line the table names, when a script ran this one)
       [--title TEXT] (the table's heading) [--floor DIR] [--avx2]"""
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
FLOOR_LIBRARIES = ("openblas", "blis", "onednn")  # fp32; build_benches.sh's names
# Each library's AVX2 kernels on any CPU: BLIS_ARCH_TYPE 3 is BLIS 0.9's haswell (BLIS_ARCH_DEBUG=1
# prints the pick); glibc's AVX2 and FMA variants stay, only AVX-512 is hidden.
AVX2_PATHS = {"ONEDNN_MAX_CPU_ISA": "AVX2", "OPENBLAS_CORETYPE": "Haswell", "BLIS_ARCH_TYPE": "3",
              "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX512DQ,-AVX512BW,-AVX512VL"}
STEPS_PER_EPOCH = 600  # the seed setup: 60000 images in batches of 100


def products_floor(directory):
    """The step's products alone (bench_blas.c: best of 5 x 100 steps) at every core's thread, through
    the fastest library now: (ms, library)."""
    threads = str(os.cpu_count())
    times = {}
    for library in FLOOR_LIBRARIES:
        out = subprocess.run([os.path.join(directory, library), threads], capture_output=True, text=True, check=True,
                             env={**environment, "OMP_NUM_THREADS": threads}).stdout
        times[library] = float(re.search(r"([0-9.]+) ms per step", out).group(1))
    fastest = min(times, key=times.get)
    return times[fastest], fastest


def largest_move(values, first):
    """The largest |value / first - 1| over values."""
    return max(abs(v / first - 1) for v in values)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("builds", nargs="+", help="LABEL=GSVAE_BIN[,key=value...]; the first is the ratios' base")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--busy", type=int, default=0)
    parser.add_argument("--command")
    parser.add_argument("--title", default="gsvae on each BLAS library", help="the table's heading")
    parser.add_argument("--floor", help="bench/blas/build_benches.sh's directory: floors around every run")
    parser.add_argument("--avx2", action="store_true", help="the libraries' AVX2 code alone (AVX2_PATHS)")
    args = parser.parse_args()
    if args.avx2:
        environment.update(AVX2_PATHS)
    builds = [b.split("=", 1) for b in args.builds]
    keys = {label: binary.split(",")[1:] for label, binary in builds}
    builds = [(label, binary.split(",")[0]) for label, binary in builds]
    blas = {label: re.search(r"^ *BLAS +(.*)$", subprocess.run([binary, "info"], capture_output=True, text=True,
                                                             check=True, env=environment).stdout, re.M).group(1)
            for label, binary in builds}  # the line BLAS alone: a CUDA build's cuBLAS line comes first
    # per (build, ranks): each repetition's mean epoch seconds, whole-run seconds, final test loss
    epoch, wall, test = ({(label, r): [] for label, _ in builds for r, _ in CONFIGS} for _ in range(3))
    # per (build, ranks), with --floor: each run's (ms a step, floor before, floor after, epochs)
    floored = {(label, r): [] for label, _ in builds for r, _ in CONFIGS}
    floor = products_floor(args.floor) if args.floor else None
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
                if args.floor:
                    before, floor = floor, products_floor(args.floor)
                    floored[label, ranks].append((statistics.mean(seconds) / STEPS_PER_EPOCH * 1e3, before, floor,
                                                  seconds))
                    print(f"  floor {before[0]:.2f} ms ({before[1]}) before, {floor[0]:.2f} ms ({floor[1]}) after",
                          flush=True)
    base = builds[0][0]
    cpu = open("/proc/cpuinfo").read().split("model name")[1].split(":")[1].splitlines()[0].strip()
    lines = [
        f"# {args.title}: {args.epochs} epoch(s) of the seed setup"
        + (f", {args.busy} busy loop(s) beside it" if args.busy else ""), "",
        "Command: `" + (args.command or f"bench/blas/bench_blas_epochs.sh --reps {args.reps} --epochs {args.epochs}"
                        + (f" --busy {args.busy}" if args.busy else "")) + "` (runs "
        f"`bench/blas/bench_blas_epochs.py`), {os.cpu_count()} cores ({cpu}), "
        + (" ".join(f"{k}={v}" for k, v in AVX2_PATHS.items()) if args.avx2 else "OPENBLAS_CORETYPE unset")
        + f", {args.reps} "
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
                         f"{statistics.median(epoch[key]) / STEPS_PER_EPOCH * 1e3:.1f} | {statistics.median(test[key]):.2f} |")
    lines += ["", "Per repetition (mean epoch seconds; whole run):", ""]
    for ranks, what in CONFIGS:
        for label, _ in builds:
            lines.append(f"- {label}, {what}: " + "; ".join(f"{e:.2f} ({w:.1f})" for e, w in
                                                              zip(epoch[label, ranks], wall[label, ranks])))
    if args.floor:
        lines += floor_table(builds, keys, floored)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def floor_table(builds, keys, floored):
    """Each run against the products floor taken just before and just after it, and its epochs
    against its first."""
    threads = os.cpu_count()
    lines = [
        "", f"Against the step's products alone at {threads} threads (`bench/blas/bench_blas.c` through OpenBLAS, "
        "BLIS and oneDNN, the fastest of the three; fp32 products whatever the build), timed just before and just "
        "after each run. Step / floor: the run's mean ms a step over the faster of its two floors. Epochs' move: "
        "the largest |epoch / first epoch - 1| of the run; the floor's move: |after / before - 1|, the host's own "
        "drift over the same minutes. Medians over the repetitions, the extremes in brackets.", "",
        "| build | ranks | step / floor | runs within 1.25× | epochs' largest move from the first | floor's move |",
        "|---|---|---:|---:|---:|---:|",
    ]
    per_run = ["", "Per run (ms a step; floor before, after; epochs s):", ""]
    for ranks, what in CONFIGS:
        for label, _ in builds:
            runs = floored[label, ranks]
            ratios = [step / min(before[0], after[0]) for step, before, after, _ in runs]
            epoch_moves = [largest_move(seconds, seconds[0]) for *_, seconds in runs]
            floor_moves = [largest_move([after[0]], before[0]) for _, before, after, _ in runs]
            settings = " ".join(keys[label])
            lines.append(
                f"| {label}{' (' + settings + ')' if settings else ''} | {what} | {statistics.median(ratios):.2f} "
                f"({min(ratios):.2f}–{max(ratios):.2f}) | {sum(r <= 1.25 for r in ratios)} of {len(ratios)} | "
                f"{statistics.median(epoch_moves):.1%} ({max(epoch_moves):.1%}) | "
                f"{statistics.median(floor_moves):.1%} ({max(floor_moves):.1%}) |")
            per_run.append(f"- {label}, {what}: " + "; ".join(
                f"{step:.2f} ms ({before[0]:.2f} {before[1]}, {after[0]:.2f} {after[1]}; "
                + ", ".join(f"{s:.1f}" for s in seconds) + ")" for step, before, after, seconds in runs))
    return lines + per_run


if __name__ == "__main__":
    main()
