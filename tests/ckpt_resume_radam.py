"""RAdam resumes as the run that would have happened. Its first 5 steps (beta2 = 0.999) are
momentum SGD and the rectified rule starts at t = 6, both read from the step count, so a run
stopped at step 3 (a log step, so the curves match; the next three steps straddle the switch)
or at 21, then resumed to 40, must give byte-identical parameters, moments and curves to 40
steps in one go, on 1 rank and sharded over 2; with train.deterministic=true, stopped on 2 ranks
and resumed on 3 (shards of other sizes) it must equal 1 rank straight. A checkpoint is refused
by a run with the other optimizer, naming the key. The RAdam run must differ from the Adam one,
or none of this would show that the key is read."""
import os, shutil, sys
from ckpt_common import *

RADAM = ["train.optimizer=radam"]
failures = []


for ranks in (1, 2):
    straight = fresh_dir(f"radam-straight-np{ranks}")
    train(straight, RADAM + ["run.resume=never"], ranks)
    reference = final_state(straight)
    for stop in (3, 21):
        stopped = fresh_dir(f"radam-stopped{stop}-np{ranks}")
        train(stopped, RADAM + ["run.resume=never", f"train.max_steps={stop}"], ranks)
        train(stopped, RADAM + ["run.resume=auto"], ranks)
        failures += compare(final_state(stopped), reference, f"radam np{ranks} resumed at {stop}")

adam = fresh_dir("adam-straight-np1")
train(adam, ["run.resume=never"])
if not compare(final_state(adam), final_state(os.path.join(WORK, "radam-straight-np1")), "adam vs radam"):
    failures.append("train.optimizer=radam gave Adam's bytes: the key is not read")

radam_checkpoint = os.path.join(WORK, "radam-stopped3-np1", "ckpt", "step_00000003.h5")
refused = train(fresh_dir("adam-from-radam"), ["train.optimizer=adam", f"run.resume={radam_checkpoint}"], expect=4)
if "train.optimizer is radam in the checkpoint, adam in this run" not in refused.stderr:
    failures.append(f"resuming a radam checkpoint with adam: message was {refused.stderr[-500:]!r}")

DETERMINISTIC = RADAM + ["train.deterministic=true"]
one_rank = fresh_dir("radam-deterministic-np1")
train(one_rank, DETERMINISTIC + ["run.resume=never"])
two_to_three = fresh_dir("radam-deterministic-np2-to-np3")
train(two_to_three, DETERMINISTIC + ["run.resume=never", "train.max_steps=3"], 2)
train(two_to_three, DETERMINISTIC + ["run.resume=auto"], 3)
failures += compare(final_state(two_to_three), final_state(one_rank), "radam 2 ranks resumed on 3 vs 1 rank")
if failures:
    sys.exit("\n".join(failures))
print("radam resume: byte-identical at 3 and 21 on 1 and 2 ranks, 2 -> 3 ranks equal to 1 rank; "
      "adam refused on a radam checkpoint; radam differs from adam")
