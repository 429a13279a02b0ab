"""Shared by the checkpoint tests: running gsvae on the small dataset and reading what it wrote."""
import os, shutil, subprocess, sys
import h5py
import numpy as np

GSVAE, MPIEXEC, DATA_DIR, WORK = sys.argv[1:5]
MPI_FLAGS = ["--allow-run-as-root", "--oversubscribe"]
# 500 images / batch 50 = 10 steps an epoch; log and checkpoint intervals that cut log intervals
# and epochs in two, so the carried metric sums matter.
# CPU ranks, also on a GPU machine: there N ranks would otherwise share its GPU, which NCCL refuses.
SMALL = ["device.backend=cpu", f"data.dir={DATA_DIR}", "train.batch=50", "model.hidden=64,32", "model.latents=8", "model.categories=4",
         "train.seed=11", "tau.schedule=exp", "tau.rate=0.01", "tau.every=3", "run.log_every=3",
         "run.ckpt_every=7", "run.keep=100", "train.epochs=4"]


def fresh_dir(name):
    path = os.path.join(WORK, name)
    shutil.rmtree(path, ignore_errors=True)
    return path


def command(run_dir, overrides, ranks=1):
    args = [GSVAE, "train", *SMALL, *overrides, f"run.dir={run_dir}"]
    return [MPIEXEC, *MPI_FLAGS, "-np", str(ranks), *args] if ranks > 1 else args


def train(run_dir, overrides=(), ranks=1, expect=0):
    result = subprocess.run(command(run_dir, overrides, ranks), capture_output=True, text=True, timeout=600)
    if result.returncode != expect:
        sys.exit(f"gsvae train {' '.join(overrides)} in {run_dir} on {ranks} rank(s) exited {result.returncode}, "
                 f"expected {expect}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def read_tree(path, groups=("params", "optimizer/exp_avg", "optimizer/exp_avg_sq", "curves/steps", "curves/epochs")):
    """Every dataset under `groups` as {group/name: array}."""
    out = {}
    with h5py.File(path, "r") as f:
        for group in groups:
            if group in f:
                for name, dataset in f[group].items():
                    out[f"{group}/{name}"] = dataset[:]
    return out


def checkpoints(run_dir):
    ckpt = os.path.join(run_dir, "ckpt")
    return sorted(n for n in os.listdir(ckpt) if n.startswith("step_")) if os.path.isdir(ckpt) else []


def checkpoint_step(name):
    return int(name[len("step_"):-len(".h5")])


def compare(a, b, what):
    """Messages for every dataset that differs bytewise."""
    problems = []
    if sorted(a) != sorted(b):
        problems.append(f"{what}: datasets differ: {sorted(set(a) ^ set(b))}")
    for key in sorted(set(a) & set(b)):
        x, y = a[key], b[key]
        if x.shape != y.shape:
            problems.append(f"{what}: {key} shapes {x.shape} vs {y.shape}")
        elif x.tobytes() != y.tobytes():
            problems.append(f"{what}: {key} differs (max abs {np.nanmax(np.abs(x - y)):.3g})")
    return problems


def final_state(run_dir, step=40):
    """What a resumed run must equal: run.h5's parameters and curves and the checkpoint of `step`."""
    state = read_tree(os.path.join(run_dir, "run.h5"), ("params", "curves/steps", "curves/epochs"))
    checkpoint = os.path.join(run_dir, "ckpt", f"step_{step:08d}.h5")
    state.update({f"ckpt/{k}": v for k, v in read_tree(checkpoint).items()})
    return state
