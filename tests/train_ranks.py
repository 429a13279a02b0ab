"""1, 2 and 4 ranks train the same run, and run.h5 has the layout README.md documents.

The ranks sum a global batch in different orders (one GEMM over 50 rows, or 25 + 25 and an
all-reduce), so they differ in the last bits. That is invisible in the losses, which must agree
within 1e-5 at every step (they do to ~1e-7), and in the parameters for as long as no ReLU
pre-activation lies within those last bits of zero. When one does (about once in a few dozen
steps of the seed model), it lands on different sides of the kink, a few gradient entries change
discretely, and Adam (whose step is ~lr whatever the gradient's size) turns them into lr-sized
parameter differences. So the parameters are compared strictly (1e-5) after the first epoch
(the checkpoint at step 10), and after the second (the end) within 1e-3."""
import os, shutil, subprocess, sys
import h5py
import numpy as np
import yaml

gsvae, mpiexec, data_dir, work = sys.argv[1:5]
MPI_FLAGS = ["--allow-run-as-root", "--oversubscribe"]
OVERRIDES = [f"data.dir={data_dir}", "train.batch=50", "train.epochs=2", "run.log_every=1",
             "train.seed=7", "tau.schedule=exp", "tau.rate=0.01", "tau.every=3", "tau.min=0.5"]
SEED_SHAPES = {"fc1.weight": (512, 784), "fc1.bias": (512,), "fc2.weight": (256, 512), "fc2.bias": (256,),
               "fc3.weight": (300, 256), "fc3.bias": (300,), "fc4.weight": (256, 300), "fc4.bias": (256,),
               "fc5.weight": (512, 256), "fc5.bias": (512,), "fc6.weight": (784, 512), "fc6.bias": (784,)}


def train(ranks, estimator):
    run_dir = os.path.join(work, f"{estimator}-np{ranks}")
    shutil.rmtree(run_dir, ignore_errors=True)
    command = [mpiexec, *MPI_FLAGS, "-np", str(ranks), gsvae, "train", *OVERRIDES,
               f"train.estimator={estimator}", f"run.dir={run_dir}", "run.resume=never"]
    # One BLAS thread per rank for every rank count: a threaded OpenBLAS GEMM splits its sums
    # too, one more source of the last-bit differences described above.
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        steps = {k: f["curves/steps"][k][:] for k in f["curves/steps"]}
        epochs = {k: f["curves/epochs"][k][:] for k in f["curves/epochs"]}
        params = {k: f["params"][k][:] for k in f["params"]}
        config = f.attrs["config"]
        config = yaml.safe_load(config.decode() if isinstance(config, bytes) else config)
        assert config["train"]["batch"] == 50 and config["train"]["estimator"] == estimator, "config attribute"
        assert int(f["env"].attrs["ranks"]) == ranks, "env/ranks"
    with h5py.File(os.path.join(run_dir, "ckpt", "step_00000010.h5"), "r") as checkpoint:
        first_epoch_params = {k: checkpoint["params"][k][:] for k in checkpoint["params"]}
    return steps, epochs, params, first_epoch_params


def relative(a, b):
    return np.linalg.norm(np.asarray(a, np.float64) - b) / max(np.linalg.norm(np.asarray(b, np.float64)), 1e-30)


failures = []
for estimator in ("gs", "st"):
    base_steps, base_epochs, base_params, base_first = train(1, estimator)
    n_steps = len(base_steps["step"])
    if n_steps != 20 or list(base_steps["step"]) != list(range(1, 21)):
        failures.append(f"{estimator}: expected steps 1..20, got {base_steps['step']}")
    if len(base_epochs["epoch"]) != 2 or not np.all(np.isfinite(base_epochs["test_loss"])):
        failures.append(f"{estimator}: expected 2 epoch rows with a test loss, got {base_epochs}")
    if {k: v.shape for k, v in base_params.items()} != SEED_SHAPES:
        failures.append(f"{estimator}: params {[(k, v.shape) for k, v in base_params.items()]}")
    tau = base_steps["tau"]
    expected_tau = np.maximum(0.5, np.exp(-0.01 * ((np.arange(20) // 3) * 3)))
    if relative(tau, expected_tau) > 1e-6:
        failures.append(f"{estimator}: tau column {tau} != {expected_tau}")
    for ranks in (2, 4):
        steps, epochs, params, first = train(ranks, estimator)
        for column in ("relaxed", "unrelaxed", "bce", "kl"):
            error = relative(steps[column], base_steps[column])
            if not error <= 1e-5:
                failures.append(f"{estimator}: {ranks} ranks, steps/{column} relative difference {error:.2e}")
        for column in ("train_relaxed", "train_unrelaxed", "test_loss"):
            error = relative(epochs[column], base_epochs[column])
            if not error <= 1e-5:
                failures.append(f"{estimator}: {ranks} ranks, epochs/{column} relative difference {error:.2e}")
        for name, value in first.items():
            error = relative(value, base_first[name])
            if not error <= 1e-5:
                failures.append(f"{estimator}: {ranks} ranks, {name} after epoch 1: relative difference {error:.2e}")
        for name, value in params.items():
            error = relative(value, base_params[name])
            if not error <= 1e-3:
                failures.append(f"{estimator}: {ranks} ranks, final {name}: relative difference {error:.2e}")
        print(f"{estimator}: {ranks} ranks vs 1: losses {max(relative(steps[c], base_steps[c]) for c in ('relaxed', 'unrelaxed')):.1e}, "
              f"params after epoch 1 {max(relative(v, base_first[k]) for k, v in first.items()):.1e}, "
              f"final params {max(relative(v, base_params[k]) for k, v in params.items()):.1e}")
if failures:
    sys.exit("\n".join(failures))
