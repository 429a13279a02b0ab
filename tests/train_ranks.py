"""Rank counts and BLAS threads, and run.h5's documented layout.

train.deterministic=true: 1, 2, 3 and 4 ranks (3 does not divide the batch of 50,
nor the 8 chunks), and 1 rank with 1, 2 and 3 BLAS threads (its threads then compute whole chunks side
by side: 3 does not divide 8 either), give byte-identical parameters, Adam
state and curves after an epoch (the checkpoint at step 10 and run.h5), for both estimators; so do
2 and 3 ranks exchanging by MPI messages instead of the node's shared memory, with sf's baseline and
a learned tau in the flat buffer; 5 ranks over 4 chunks is a usage error.

train.deterministic=false (the default): one product per rank and MPI's sum, so 1 and 2 ranks agree only up to
the order of float summation. Losses within 1e-5: each a sum of the batch's ~50 x 800 terms, ~1e-6
relative apart (seen ~1e-7). Parameters and Adam's moments after the epoch within 1e-3 relative
(per dataset, in norm): without a decision flipped, the gradients differ by ~1e-6 relative and Adam's
normalised steps pass that on, ~1e-6 of the parameters' change (seen 9.7e-7). A flipped decision (a
ReLU pre-activation within that rounding of 0: ~1 expected among the ~10^6 of 10 steps) changes one
sample's 1/50 share of one unit's fan-in and fan-out gradients (~800 entries), so Adam's steps there
by up to 2% of lr = 1e-3 over the ~10 steps left: 2e-5 x 10 x sqrt(800) ~ 6e-3 absolute against
a tensor norm of ~19 (fc1), ~3e-4 relative. 1e-3 covers that one flip; a wrong shard, a missing or
doubled rank's gradient moves the parameters by 1e-2 relative and more. Shared memory and messages
fold the same partials in the same order: byte-identical at 2 ranks here too."""
import os, shutil, subprocess, sys
import h5py
import numpy as np
import yaml

from ckpt_common import read_tree  # same command line: GSVAE MPIEXEC DATA_DIR WORK

gsvae, mpiexec, data_dir, work = sys.argv[1:5]
MPI_FLAGS = ["--allow-run-as-root", "--oversubscribe"]
# CPU ranks, also on a GPU machine: there N ranks would otherwise share its GPU, which NCCL refuses.
OVERRIDES = ["device.backend=cpu", f"data.dir={data_dir}", "train.batch=50", "train.epochs=1", "run.log_every=1", "train.seed=7",
             "tau.schedule=exp", "tau.rate=0.01", "tau.every=3", "tau.min=0.5", "train.deterministic=true"]
SEED_SHAPES = {"fc1.weight": (512, 784), "fc1.bias": (512,), "fc2.weight": (256, 512), "fc2.bias": (256,),
               "fc3.weight": (300, 256), "fc3.bias": (300,), "fc4.weight": (256, 300), "fc4.bias": (256,),
               "fc5.weight": (512, 256), "fc5.bias": (512,), "fc6.weight": (784, 512), "fc6.bias": (784,)}
GROUPS = ("params", "optimizer/exp_avg", "optimizer/exp_avg_sq", "curves/steps", "curves/epochs")


def run(name, ranks, overrides=(), threads="1", expect=0):
    run_dir = os.path.join(work, name)
    shutil.rmtree(run_dir, ignore_errors=True)
    command = [mpiexec, *MPI_FLAGS, "-np", str(ranks), gsvae, "train", *OVERRIDES, *overrides,
               f"run.dir={run_dir}", "run.resume=never"]
    # OpenBLAS reads the first, oneDNN's OpenMP the second: whichever gsvae was built with
    env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads)
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    if result.returncode != expect:
        sys.exit(f"{' '.join(command)} exited {result.returncode}, expected {expect}:\n{result.stdout}\n{result.stderr}")
    return run_dir, result


def read(run_dir):
    """Every dataset of the epoch's checkpoint and of run.h5, as {file:group/name: array}."""
    out = {}
    for label, path in (("ckpt", os.path.join(run_dir, "ckpt", "step_00000010.h5")),
                        ("run", os.path.join(run_dir, "run.h5"))):
        out.update({f"{label}:{key}": value for key, value in read_tree(path, GROUPS).items()})
    return out


def check_layout(run_dir, ranks, estimator):
    problems = []
    with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        config = f.attrs["config"]
        config = yaml.safe_load(config.decode() if isinstance(config, bytes) else config)
        if config["train"]["batch"] != 50 or config["train"]["estimator"] != estimator:
            problems.append("config attribute")
        if int(f["env"].attrs["ranks"]) != ranks:
            problems.append("env/ranks")
        if {k: v.shape for k, v in f["params"].items()} != SEED_SHAPES:
            problems.append(f"params {[(k, v.shape) for k, v in f['params'].items()]}")
        steps, tau = f["curves/steps/step"][:], f["curves/steps/tau"][:]
        if list(steps) != list(range(1, 11)):
            problems.append(f"steps {steps}")
        if np.abs(tau - np.maximum(0.5, np.exp(-0.01 * ((np.arange(10) // 3) * 3)))).max() > 1e-6:
            problems.append(f"tau column {tau}")
        if len(f["curves/epochs/epoch"]) != 1 or not np.all(np.isfinite(f["curves/epochs/test_loss"][:])):
            problems.append("epoch row")
    return [f"{estimator} np{ranks}: {p}" for p in problems]


def relative(a, b):
    return np.linalg.norm(np.asarray(a, np.float64) - b) / max(np.linalg.norm(np.asarray(b, np.float64)), 1e-30)


failures = []
for estimator in ("gs", "st"):
    base_dir, _ = run(f"{estimator}-np1", 1, [f"train.estimator={estimator}"])
    failures += check_layout(base_dir, 1, estimator)
    base = read(base_dir)
    for ranks, threads in ((1, "2"), (1, "3"), (2, "1"), (3, "1"), (4, "1")):
        run_dir, _ = run(f"{estimator}-np{ranks}-t{threads}", ranks, [f"train.estimator={estimator}"], threads)
        failures += check_layout(run_dir, ranks, estimator)
        state = read(run_dir)
        differ = [k for k in base if state.get(k) is None or state[k].tobytes() != base[k].tobytes()]
        failures += [f"{estimator}: {ranks} rank(s), {threads} BLAS thread(s): {k} differs from 1 rank" for k in differ]
        print(f"{estimator}: {ranks} rank(s), {threads} BLAS thread(s): "
              f"{'byte-identical' if not differ else f'{len(differ)} datasets differ'} ({len(base)} datasets)")

# Ranks on one node share the parameters and read each other's partials in a shared-memory window
# (device.shared_memory, the default); MPI messages, as between nodes, must give the same bytes. The
# estimators whose own state lives in the flat buffer (sf's moving-average baseline, written once by
# the rank whose shard holds it; tau.learn's log tau) and 3 ranks, which split neither the batch
# nor the chunks evenly.
STATEFUL = {"sf": ["train.estimator=sf", "train.sf_baseline=ema", "train.sf_decay=0.9"],
            "learned-tau": ["train.estimator=gs", "tau.schedule=constant", "tau.learn=true"]}
for name, overrides in STATEFUL.items():
    base = read(run(f"{name}-np1", 1, overrides)[0])
    for ranks, exchange in ((3, "true"), (3, "false"), (2, "false")):
        run_dir, result = run(f"{name}-np{ranks}-shared-{exchange}", ranks,
                              [*overrides, f"device.shared_memory={exchange}"])
        said = f"{ranks} rank(s) on cpu over mpi{', shared memory (one node)' if exchange == 'true' else ''} |"
        if said not in result.stdout:
            failures.append(f"{name}: {ranks} ranks, device.shared_memory={exchange}: "
                            f"no '{said}' in {result.stdout[:300]}")
        state = read(run_dir)
        differ = [k for k in base if state.get(k) is None or state[k].tobytes() != base[k].tobytes()]
        failures += [f"{name}: {ranks} ranks, device.shared_memory={exchange}: {k} differs from 1 rank" for k in differ]
        print(f"{name}: {ranks} ranks, device.shared_memory={exchange}: "
              f"{'byte-identical' if not differ else f'{len(differ)} datasets differ'} ({len(base)} datasets)")

_, result = run("too-many-ranks", 5, ["train.reduce_chunks=4", "train.max_steps=1"], expect=2)
if "train.reduce_chunks=4 is less than the 5 ranks" not in result.stderr:
    failures.append(f"5 ranks over 4 chunks: {result.stderr[-500:]}")

loose = [read(run(f"nondeterministic-np{n}", n, ["train.deterministic=false"])[0]) for n in (1, 2)]
# one partial a rank, folded in rank order: the messages' path gives the shared window's bytes
messages = read(run("nondeterministic-np2-messages", 2, ["train.deterministic=false", "device.shared_memory=false"])[0])
failures += [f"train.deterministic=false, 2 ranks: {k} differs between shared memory and messages"
             for k in loose[1] if messages[k].tobytes() != loose[1][k].tobytes()]
for key, value in loose[0].items():
    tolerance = 1e-5 if "curves" in key else 1e-3  # see the docstring
    error = relative(loose[1][key], value)
    if not error <= tolerance:
        failures.append(f"train.deterministic=false, 2 ranks: {key} relative difference {error:.2e} > {tolerance}")
print(f"train.deterministic=false: 2 ranks vs 1 within "
      f"{max(relative(loose[1][k], v) for k, v in loose[0].items()):.1e}")
if failures:
    sys.exit("\n".join(failures))
