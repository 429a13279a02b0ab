"""Resume is the run that would have happened: 21 steps, stop, resume to 40 gives byte-identical
parameters, Adam state and curves as 40 steps in one go (1 and 2 ranks, the default reduction),
also from a checkpoint that cuts a log interval (step 14); with train.deterministic=true a run
stopped on 2 ranks and resumed on 3 is byte-identical to 1 rank uninterrupted (README, Training)."""
import os, shutil, sys
from ckpt_common import *

failures = []


for ranks in (1, 2):
    straight = fresh_dir(f"straight-np{ranks}")
    train(straight, ["run.resume=never"], ranks)
    reference = final_state(straight)
    if list(reference["curves/steps/step"]) != list(range(3, 40, 3)) + [40]:
        failures.append(f"np{ranks}: straight run logged steps {reference['curves/steps/step']}")

    stopped = fresh_dir(f"stopped-np{ranks}")
    train(stopped, ["run.resume=never", "train.max_steps=21"], ranks)
    steps = [checkpoint_step(n) for n in checkpoints(stopped)]
    if steps != [7, 10, 14, 20, 21]:
        failures.append(f"np{ranks}: checkpoints at {steps}, expected [7, 10, 14, 20, 21]")
    cut = fresh_dir(f"cut-np{ranks}")
    shutil.copytree(stopped, cut)
    train(stopped, ["run.resume=auto"], ranks)
    failures += compare(final_state(stopped), reference, f"np{ranks} resumed at 21")
    train(cut, [f"run.resume={cut}/ckpt/step_00000014.h5"], ranks)
    failures += compare(final_state(cut), reference, f"np{ranks} resumed at 14")

DETERMINISTIC = ["train.deterministic=true"]
straight = {}
for ranks in (1, 2):
    straight[ranks] = fresh_dir(f"deterministic-straight-np{ranks}")
    train(straight[ranks], DETERMINISTIC + ["run.resume=never"], ranks)
two_to_three = fresh_dir("deterministic-np2-to-np3")
train(two_to_three, DETERMINISTIC + ["run.resume=never", "train.max_steps=21"], 2)
train(two_to_three, DETERMINISTIC + ["run.resume=auto"], 3)
reference = final_state(straight[1])
failures += compare(final_state(two_to_three), reference, "2 ranks resumed on 3 vs 1 rank straight")
failures += compare(final_state(straight[2]), reference, "2 ranks straight vs 1 rank")
if failures:
    sys.exit("\n".join(failures))
print("resume: byte-identical on 1 and 2 ranks, and 2 -> 3 ranks byte-identical to 1 rank straight")
