#!/usr/bin/env python3
"""The estimators across latent shapes: reads the per-run values that bench/estimators/compare_estimators.sh
writes beside each table (OUT.tsv: estimator, seed, train -ELBO, test -ELBO, bound, seconds), one
file per shape named ..._<C>x<L>.tsv (C classes, L variables: the ReinMax authors' C x L), and writes a Markdown table of mean +- sd over seeds per
estimator and shape (the test bound on -log p(x), then the train -ELBO) and a plot of each
estimator's bound less the best estimator's at that shape, with its sd over seeds.

  bench/estimators/summarize_estimators.py OUT.md OUT.png bench/estimators/results/estimators_*.tsv

The plot needs PLplot's Python bindings (python3-plplot, which launch/install.sh --test installs).
"""
import math
import os
import re
import sys

ESTIMATORS = ["gs", "st", "st_softmax", "gst", "grmck", "reinmax", "sf"]
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194)]


def read_shape(path):
    match = re.search(r"_(\d+)x(\d+)\.tsv$", path)
    if not match:
        sys.exit(f"summarize_estimators: {path}: expected a name ending in _<categories>x<latents>.tsv")
    runs = {}
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 6:
                sys.exit(f"summarize_estimators: {path}:{number}: expected 6 tab-separated columns "
                         f"(estimator, seed, train, test, bound, seconds), got {len(fields)}")
            try:
                values = [float(v) for v in fields[2:5]]
            except ValueError:
                sys.exit(f"summarize_estimators: {path}:{number}: expected numbers in columns 3-5, got {fields[2:5]}")
            runs.setdefault(fields[0], []).append(values)
    return (int(match.group(1)), int(match.group(2))), runs


def mean_sd(values):
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, sd


def table(shapes, column, title):
    lines = [f"| {title} | " + " | ".join(f"{c}×{l}" for (c, l), _ in shapes) + " |",
             "|---|" + "---:|" * len(shapes)]
    for name in ESTIMATORS:
        cells = []
        for _, runs in shapes:
            values = [run[column] for run in runs.get(name, [])]
            cells.append("%.1f ± %.1f" % mean_sd(values) if values else "-")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(shapes, path):
    import plplot as pl
    pl.plsdev("pngcairo")
    pl.plsfnam(path)
    pl.plsetopt("geometry", "900x560")
    pl.plscolbg(255, 255, 255)
    pl.plinit()
    pl.plscol0(15, 0, 0, 0)
    gaps = []  # per estimator: (x, gap, sd) over shapes
    for index, name in enumerate(ESTIMATORS):
        points = []
        for position, (_, runs) in enumerate(shapes):
            best = min(mean_sd([r[2] for r in rs])[0] for rs in runs.values())
            if name in runs:
                mean, sd = mean_sd([r[2] for r in runs[name]])
                points.append((position + (index - 3) * 0.06, mean - best, sd))
        gaps.append(points)
    top = max(g + s for points in gaps for _, g, s in points) * 1.08 + 0.5
    pl.plcol0(15)
    pl.pladv(0)
    pl.plvpor(0.1, 0.82, 0.12, 0.9)
    pl.plwind(-0.5, len(shapes) - 0.5, -0.5, top)
    pl.plbox("bc", 0, 0, "bcnst", 0, 0)
    for position, ((c, l), _) in enumerate(shapes):
        pl.plmtex("b", 1.5, (position + 0.5) / len(shapes), 0.5, f"{c}×{l}")
    pl.pllab("", "nats above the best", "test -log p(x) bound less the best estimator's, per shape C×L (classes×variables)")
    for index, points in enumerate(gaps):
        pl.plscol0(1 + index, *COLOURS[index])
        pl.plcol0(1 + index)
        for x, gap, sd in points:
            pl.pljoin(x, gap - sd, x, gap + sd)
        pl.plstring([x for x, _, _ in points], [g for _, g, _ in points], "#(850)")
        pl.plmtex("rv", 1.0, 0.95 - 0.07 * index, 0, "#(850) " + ESTIMATORS[index])
    pl.plend()


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: bench/estimators/summarize_estimators.py OUT.md OUT.png SHAPE.tsv ...")
    out, image = sys.argv[1], sys.argv[2]
    shapes = sorted((read_shape(path) for path in sys.argv[3:]), key=lambda shape: shape[0][0] * shape[0][1])
    with open(out, "w") as handle:
        handle.write("# Estimators across latent shapes, C×L = classes × variables as the ReinMax authors write them\n\n")
        handle.write(f"`bench/estimators/summarize_estimators.py {' '.join(sys.argv[1:])}`: the per-run values of "
                     "`bench/estimators/compare_estimators.sh` at each shape (its table beside each .tsv says the epochs, "
                     "seeds, threads and evaluation). Mean ± sd over seeds; lower is better.\n\n")
        handle.write(table(shapes, 2, "test -log p(x) bound") + "\n\n")
        handle.write(table(shapes, 0, "train -ELBO") + "\n\n")
        handle.write(f"![bound less the best per shape]({os.path.basename(image)})\n")
    plot(shapes, image)
    print(open(out).read())


if __name__ == "__main__":
    main()
