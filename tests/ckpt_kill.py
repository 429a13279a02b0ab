"""kill -9 at random moments (at least 20 times: 1 to 12 steps past each resume point, then a
random instant) of a run with frequent checkpoints, each
followed by a resume: the final parameters equal the uninterrupted run's, and every file that
carries a checkpoint's name is always a complete, valid checkpoint."""
import os, random, subprocess, sys, time
from ckpt_common import *

KILL = ["model.hidden=256,128", "train.epochs=30", "run.ckpt_every=2", "run.keep=3", "run.log_every=1"]
failures = []
straight = fresh_dir("straight")
train(straight, ["run.resume=never", *KILL])
reference = read_tree(os.path.join(straight, "run.h5"), ("params", "curves/steps", "curves/epochs"))



def last_logged_step(run_dir):
    # Without a lock: a reader's shared lock at the instant a resumed run reopens run.h5 for writing
    # would make that open fail ("Resource temporarily unavailable"), a race of this poll, not a kill.
    try:
        with h5py.File(os.path.join(run_dir, "run.h5"), "r", swmr=True, locking=False) as f:
            steps = f["curves/steps/step"]
            return int(steps[-1]) if len(steps) else 0
    except (OSError, KeyError, ValueError):  # not created yet, or being recreated by a resume
        return 0


run_dir = fresh_dir("killed")
rng = random.Random(3)
kills = 0
resumed_from = []  # newest checkpoint after each kill: the kills must land at different points
while True:
    process = subprocess.Popen(command(run_dir, ["run.resume=auto", *KILL]), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    if kills < 20:  # a random number of steps past the resume point, then a random instant
        names = checkpoints(run_dir)
        target = (checkpoint_step(names[-1]) if names else 0) + rng.randint(1, 12)
        while process.poll() is None and last_logged_step(run_dir) < target:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.01))
    if kills < 20 and process.poll() is None:
        process.kill()
        kills += 1
    _, err = process.communicate(timeout=300)
    for name in checkpoints(run_dir):  # complete and self-consistent, whenever the kill came
        try:
            with h5py.File(os.path.join(run_dir, "ckpt", name), "r") as f:
                if int(f.attrs["step"]) != checkpoint_step(name) or "params/fc6.bias" not in f:
                    failures.append(f"after kill {kills}: {name} is not a complete checkpoint")
        except OSError as error:
            failures.append(f"after kill {kills}: {name} does not open: {error}")
    if "invalid checkpoint" in err:
        failures.append(f"after kill {kills}: a checkpoint was invalid:\n{err}")
    if process.returncode == 0:
        break
    names = checkpoints(run_dir)
    resumed_from.append(checkpoint_step(names[-1]) if names else 0)
    if process.returncode != -9:
        sys.exit(f"exit {process.returncode}:\n{err}")
if kills < 20 or len(set(resumed_from) - {0}) < 5:
    failures.append(f"{kills} kills, checkpoints after them {resumed_from}: the kills must come mid-run")
final = read_tree(os.path.join(run_dir, "run.h5"), ("params", "curves/steps", "curves/epochs"))
failures += compare(final, reference, f"after {kills} kills")
if failures:
    sys.exit("\n".join(failures))
print(f"{kills} kills, newest checkpoints after them {resumed_from}: final parameters and curves equal the uninterrupted run's")
