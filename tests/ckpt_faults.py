"""Faults: SIGTERM (1 rank) and SIGUSR1 (2 ranks, through mpirun) checkpoint the step they
interrupt and exit 75, and resuming gives the uninterrupted run; run.h5 reads (SWMR) while it is
written; flipped, truncated and foreign checkpoints are named and skipped for older ones; none
valid, a model mismatch and run.resume=never refusing a used dir exit 4; a diverging run exits 5
with finite checkpoints from before the streak."""
import os, re, shutil, signal, subprocess, sys, time
from ckpt_common import *

failures = []
# 1000 steps: long enough that the SWMR reader sees 15 rows before the run ends even when each of
# its opens is slow (30 epochs once finished first in a loaded sanitized build).
LONG = ["model.hidden=256,128", "train.epochs=100", "run.log_every=1", "run.ckpt_every=0"]


def interrupted_run(name, sig, ranks):
    straight = fresh_dir(f"{name}-straight")
    train(straight, ["run.resume=never", *LONG], ranks)
    reference = read_tree(os.path.join(straight, "run.h5"), ("params", "curves/steps", "curves/epochs"))
    run_dir = fresh_dir(name)
    process = subprocess.Popen(command(run_dir, ["run.resume=never", *LONG], ranks), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    run_file, rows, deadline = os.path.join(run_dir, "run.h5"), 0, time.time() + 120
    while rows < 15 and process.poll() is None and time.time() < deadline:
        try:  # readable mid-run through SWMR
            with h5py.File(run_file, "r", swmr=True) as f:
                rows = len(f["curves/steps/step"])
        except (OSError, KeyError):
            pass
        time.sleep(0.005)
    if process.poll() is not None:
        return [f"{name}: finished before the signal could be sent; make the run longer"]
    process.send_signal(sig)
    out, err = process.communicate(timeout=120)
    problems = []
    stopped = re.search(r"stopped by signal \d+ after step (\d+)", err)
    if process.returncode != 75 or not stopped:
        return [f"{name}: exit {process.returncode} (want 75) after the signal:\n{err[-2000:]}"]
    step = int(stopped.group(1))
    names = checkpoints(run_dir)
    if not names or checkpoint_step(names[-1]) != step:
        problems.append(f"{name}: stopped after step {step} but the newest checkpoint is {names[-1:]}")
    with h5py.File(run_file, "r") as f:  # closed cleanly: a plain reader opens it
        if f["curves/steps/step"][-1] != step:
            problems.append(f"{name}: run.h5's last row is step {f['curves/steps/step'][-1]}, stopped at {step}")
    train(run_dir, ["run.resume=auto", *LONG], ranks)
    resumed = read_tree(os.path.join(run_dir, "run.h5"), ("params", "curves/steps", "curves/epochs"))
    problems += compare(resumed, reference, f"{name} resumed after step {step}")
    print(f"{name}: stopped after step {step}, exit 75, resumed to the uninterrupted run")
    return problems


failures += interrupted_run("sigterm", signal.SIGTERM, 1)
failures += interrupted_run("sigusr1", signal.SIGUSR1, 2)

# Corrupted checkpoints: the newest is bad in three ways in turn; each is named and skipped.
base = fresh_dir("corrupt-base")
train(base, ["run.resume=never"])
names = checkpoints(base)
if len(names) < 2:  # the damaged newest must have an older one to fall back to
    sys.exit(f"{base}: {len(names)} checkpoint(s) written, the checks below need 2")
newest = names[-1]
size = os.path.getsize(os.path.join(base, "ckpt", newest))


def flip(path):
    with open(path, "r+b") as f:
        for offset in range(size // 4, size, size // 7):  # metadata and data alike
            f.seek(offset)
            byte = f.read(1)
            f.seek(offset)
            f.write(bytes([byte[0] ^ 0xFF]))


def truncate(path):
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def flip_weight(path):  # one byte inside /params/fc1.weight: only the checksum can tell
    with h5py.File(path, "r") as f:
        offset = f["params/fc1.weight"].id.get_offset()
    with open(path, "r+b") as f:
        f.seek(offset + 101)
        byte = f.read(1)
        f.seek(offset + 101)
        f.write(bytes([byte[0] ^ 0x01]))


def foreign(path):
    shutil.copy(os.path.join(base, "run.h5"), path)


for damage in (flip, flip_weight, truncate, foreign):
    run_dir = fresh_dir(f"corrupt-{damage.__name__}")
    shutil.copytree(base, run_dir)
    damage(os.path.join(run_dir, "ckpt", newest))
    with open(os.path.join(run_dir, "ckpt", ".step_99999999.h5.tmp"), "wb") as f:
        f.write(b"partial")  # an interrupted write: never a checkpoint, removed
    result = train(run_dir, ["run.resume=auto", "train.epochs=5"])
    if newest not in result.stderr or "warning" not in result.stderr or (
            damage is flip_weight and "checksum mismatch" not in result.stderr):
        failures.append(f"{damage.__name__}: no warning naming {newest}:\n{result.stderr}")
    if f"resuming from {run_dir}/ckpt/{names[-2]}" not in result.stdout:
        failures.append(f"{damage.__name__}: did not resume from {names[-2]}:\n{result.stdout[:500]}")
    if os.path.exists(os.path.join(run_dir, "ckpt", ".step_99999999.h5.tmp")):
        failures.append(f"{damage.__name__}: the temporary file was left")
    print(f"{damage.__name__}: {result.stderr.strip().splitlines()[0]}")


def expect_exit(run_dir, overrides, code, words):
    result = train(run_dir, overrides, expect=code)
    if not all(w in result.stderr for w in words):
        failures.append(f"{overrides}: stderr lacks {words}:\n{result.stderr}")
    else:
        print(f"exit {code}: {result.stderr.strip().splitlines()[-1]}")


all_bad = fresh_dir("corrupt-all")
shutil.copytree(base, all_bad)
for name in checkpoints(all_bad):
    truncate(os.path.join(all_bad, "ckpt", name))
expect_exit(all_bad, ["run.resume=auto"], 4, ["none of the", "valid"])
expect_exit(base, [f"run.resume={all_bad}/ckpt/{newest}"], 4, ["run.resume", newest])
expect_exit(base, ["run.resume=auto", "model.latents=9"], 4, ["model.latents is 8 in the checkpoint, 9", "another model",
                                                              "new run.dir"])
result = train(base, ["run.resume=auto", "model.latents=9"], expect=4)
if "move them away" in result.stderr:  # they are sound checkpoints of the run's own model
    failures.append(f"model change: the message advises moving valid checkpoints away:\n{result.stderr}")
# Keys beside the model may change on resume: one note names each that did, with both values.
changed = fresh_dir("changed-keys")
shutil.copytree(base, changed)
result = train(changed, ["run.resume=auto", "train.lr=0.002", "train.estimator=st", "tau.init=0.7", "train.epochs=5",
                         "run.log_every=7"])
notes = [line for line in result.stderr.splitlines() if line.startswith("gsvae: note:")]
if len(notes) != 1 or not all(w in notes[0] for w in ("train.lr 0.001 -> 0.002", "train.estimator gs -> st",
                                                       "tau.init 1 -> 0.7")) or "log_every" in notes[0]:
    failures.append(f"changed keys on resume: want one note naming lr, estimator and tau.init:\n{result.stderr}")
else:
    print(notes[0])
expect_exit(base, ["run.resume=never"], 4, ["run.resume=never", base])

# Divergence: a learning rate that blows the weights up makes every later step non-finite.
diverged = fresh_dir("diverged")
expect_exit(diverged, ["run.resume=never", "train.lr=1e30", "train.max_bad_steps=3", "run.ckpt_every=1",
                       "run.log_every=1"], 5, ["non-finite steps in a row"])
with h5py.File(os.path.join(diverged, "run.h5"), "r") as f:
    skipped = f["curves/steps/skipped"][:]
if skipped.sum() < 3 or skipped[0] != 0:
    failures.append(f"diverged: skipped column {skipped}")
if not checkpoints(diverged):  # the loop below would check nothing
    failures.append("diverged: no checkpoint from before the streak (run.ckpt_every=1)")
for name in checkpoints(diverged):
    state = read_tree(os.path.join(diverged, "ckpt", name), ("params", "optimizer/exp_avg"))
    if checkpoint_step(name) > len(skipped) - 3 or not all(np.all(np.isfinite(v)) for v in state.values()):
        failures.append(f"diverged: checkpoint {name} is inside the streak or not finite (skipped {skipped})")
if failures:
    sys.exit("\n".join(failures))
