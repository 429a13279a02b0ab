"""Large and odd shapes end to end: a batch of 2999 (prime: divides neither the 3 ranks nor the 37
chunks of 81-82 rows, themselves uneven over the ranks: 12, 12, 13; under the 96 rows a chunk may
have with either library, src/core/chunks.h), L x K = 64 x 40 = 2560 latent units,
6000 training images (an epoch of two full batches and a short one of 2), 2 epochs on 1 rank and
on 3 ranks with train.deterministic: run.h5 byte-identical (parameters and curves), every step
counted, the losses finite."""
import os, shutil, subprocess, sys
import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_small_dataset  # noqa: E402

gsvae, mpiexec, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
data = os.path.join(work, "data")
make_small_dataset.main(data, 6000, 500)
OVERRIDES = [f"data.dir={data}", "train.batch=2999", "train.epochs=2", "model.latents=64", "model.categories=40",
             "model.hidden=96", "train.deterministic=true", "train.reduce_chunks=37", "run.log_every=1",
             "run.ckpt_every=0", "run.resume=never"]


def run(ranks):
    run_dir = os.path.join(work, f"np{ranks}")
    command = [mpiexec, "--allow-run-as-root", "--oversubscribe", "-np", str(ranks), gsvae, "train", *OVERRIDES,
               f"run.dir={run_dir}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900,
                            env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return read_tree(os.path.join(run_dir, "run.h5"), ("params", "curves/steps", "curves/epochs")), run_dir


def read_tree(path, groups):
    with h5py.File(path, "r") as f:
        return {f"{g}/{k}": f[g][k][:] for g in groups for k in f[g]}


failures = []
one, one_dir = run(1)
three, _ = run(3)
differ = [k for k in one if three.get(k) is None or one[k].tobytes() != three[k].tobytes()]
if differ:
    failures.append(f"3 ranks differ from 1 in {differ}")
with h5py.File(os.path.join(one_dir, "run.h5"), "r") as f:
    steps = f["curves/steps/step"][:]
    relaxed, test_loss = f["curves/steps/relaxed"][:], f["curves/epochs/test_loss"][:]
    shapes = {k: v.shape for k, v in f["params"].items()}
if list(steps) != list(range(1, 7)):
    failures.append(f"step rows {steps}, want 1..6 (2999, 2999, 2 a epoch)")
if not (np.all(np.isfinite(relaxed)) and np.all(np.isfinite(test_loss)) and len(test_loss) == 2):
    failures.append(f"losses {relaxed}, test {test_loss}")
if shapes.get("fc2.weight") != (2560, 96) or shapes.get("fc3.weight") != (96, 2560):
    failures.append(f"parameter shapes {shapes}")
if failures:
    sys.exit("\n".join(failures))
print(f"batch 2999, L x K 2560, 6000 images: 1 and 3 ranks byte-identical over {len(steps)} steps "
      f"({len(one)} datasets); test loss {test_loss[0]:.2f} -> {test_loss[1]:.2f}")
