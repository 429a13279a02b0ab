#!/usr/bin/env python3
"""The table of a reproduce_reinmax.sh run: per estimator, over its seeds, the train -ELBO at the
last epoch every seed reached (the mean over that epoch of the loss of the estimator's own
forward before each update: for reinmax, st and st_softmax, whose forward decodes the one-hot
sample, it is what the authors' gumbel_softmax_vae.py prints as "Average loss" and their scripts
average as "train error") and the test -ELBO of that epoch (one categorical sample per test
image, as their "Test set loss"), mean +- sd over seeds, read from each run's run.h5; and each run's
lowest train -ELBO up to that epoch, since an estimator that stalls is judged by its best too.
With --authors, logs of bench/estimators/authors_vae.py runs from their own initialization (the
authors' code on the same data) join the table as rows of their own, read at the same epoch;
their test loss is printed every 5 epochs, so it is shown where that epoch has one.

  bench/estimators/summarize_reinmax.py RUNS_DIR OUT.md [TITLE] [--authors LOG...]
"""
import glob
import math
import os
import re
import sys

import h5py

ESTIMATORS = ["reinmax", "st", "st_softmax"]
AUTHORS_NAME = {"reinmax": "`reinmax`", "st": "`gumbel` (F.gumbel_softmax, hard=True)", "st_softmax": "`st`"}


def mean_sd(values):
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, sd


def spread(values):
    """mean ± sd, or a dash where a run has no value (the authors' logs print the test loss every 5 epochs)."""
    return "%.2f ± %.2f" % mean_sd(values) if None not in values else "—"


def authors_curves(path):
    """(method, seed) and per-epoch train and test (None where not printed) of an authors_vae.py log."""
    header, train, test = None, [], []
    with open(path) as handle:
        for line in handle:
            if line.startswith("authors' VAE, "):
                header = line
            match = re.match(r"epoch (\d+) train ([\d.]+) \([\d.]+ s\)(?: test ([\d.]+))?", line)
            if match:
                if int(match.group(1)) != len(train) + 1:
                    sys.exit(f"summarize_reinmax: {path}: epoch {match.group(1)} follows epoch {len(train)}")
                train.append(float(match.group(2)))
                test.append(float(match.group(3)) if match.group(3) else None)
    if header is None or " from " in header or not train:
        sys.exit(f"summarize_reinmax: {path}: not the log of an authors_vae.py run from its own initialization")
    fields = header.split(", ")
    return fields[1], int(re.search(r", seed (\d+),", header).group(1)), train, test


def main():
    arguments = sys.argv[1:]
    authors_logs = arguments[arguments.index("--authors") + 1:] if "--authors" in arguments else []
    arguments = arguments[:arguments.index("--authors")] if "--authors" in arguments else arguments
    if len(arguments) not in (2, 3) or ("--authors" in sys.argv and not authors_logs):
        sys.exit("usage: bench/estimators/summarize_reinmax.py RUNS_DIR OUT.md [TITLE] [--authors LOG...]")
    runs_dir, out = arguments[0], arguments[1]
    title = arguments[2] if len(arguments) == 3 else "ReinMax's MNIST-VAE protocol"
    curves = {}
    for path in sorted(glob.glob(os.path.join(runs_dir, "*-seed*", "run.h5"))):
        match = re.search(r"([a-z_]+)-seed(\d+)$", os.path.dirname(path))
        try:
            with h5py.File(path, "r", swmr=True) as f:
                epochs = f["curves/epochs"]
                train, test = epochs["train_relaxed"][:], epochs["test_loss"][:]
                config = f.attrs["config"]
        except OSError as error:  # a run in progress holds its file open for writing
            print(f"summarize_reinmax: skipping {path}: {error}", file=sys.stderr)
            continue
        curves.setdefault(match.group(1), {})[int(match.group(2))] = (train, test)
    if not curves:
        sys.exit(f"summarize_reinmax: no */run.h5 under {runs_dir}")
    authors = {}
    for path in authors_logs:
        method, seed, train, test = authors_curves(path)
        authors.setdefault(method, {})[seed] = (train, test)
    reached = min(len(train) for runs in [*curves.values(), *authors.values()] for train, _ in runs.values())
    config = config.decode() if isinstance(config, bytes) else config
    data = re.search(r"^  dir: (.*)$", config, re.M).group(1).strip('"')
    binarize = re.search(r"^  binarize: (.*)$", config, re.M).group(1)
    lines = [f"# {title}", "",
             f"`bench/estimators/summarize_reinmax.py {' '.join(sys.argv[1:])}` over the runs of "
             f"`bench/estimators/reproduce_reinmax.sh` (its commands in {runs_dir}/commands.txt). Epoch {reached}, "
             "the last every run reached; mean ± sd over seeds; lower is better. Data: "
             f"`{data}` (binarize: {binarize}); the papers' tables are on MNIST, so these numbers are not "
             "theirs unless data.dir is MNIST.", "",
             "| gsvae estimator, or their code | the authors' name | seeds | train −ELBO | test −ELBO | lowest train −ELBO up to then |",
             "|---|---|---:|---:|---:|---:|"]
    # (table label, per-run label, runs): gsvae's estimators, then the authors' code
    groups = [(f"`{name}` | {AUTHORS_NAME[name]}", f"`{name}`", curves[name]) for name in ESTIMATORS if curves.get(name)]
    groups += [(f"their code | `{method}`", f"their code's `{method}`", runs) for method, runs in sorted(authors.items())]
    for label, _, runs in groups:
        train = [values[0][reached - 1] for values in runs.values()]
        test = [values[1][reached - 1] for values in runs.values()]
        lowest = [min(values[0][:reached]) for values in runs.values()]
        lines.append(f"| {label} | {','.join(map(str, sorted(runs)))} | {spread(train)} | {spread(test)} | {spread(lowest)} |")
    lines += ["", "Per run, train −ELBO / test −ELBO at epochs 1, 5, 10, 20, 40, 80, 120, 160 where reached:", ""]
    for _, run_label, runs in groups:
        for seed, (train, test) in sorted(runs.items()):
            points = [f"{e}: {train[e - 1]:.2f} / " + (f"{test[e - 1]:.2f}" if test[e - 1] is not None else "—")
                      for e in (1, 5, 10, 20, 40, 80, 120, 160) if e <= len(train)]
            lines.append(f"- {run_label} seed {seed} ({len(train)} epochs): " + "; ".join(points))
    with open(out, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
