"""The estimators' own state resumes exactly: with tau.learn (log tau in the flat buffer) and with
sf's moving-average baseline (its sum and weight there too), 21 steps, stop, resume to 40 gives
byte-identical parameters, Adam state and curves to 40 steps in one go; the learned tau moves and
is what the tau curve shows; a checkpoint of one kind is refused by a run of the other."""
import math, os, sys
import h5py
from ckpt_common import *

failures = []
CASES = {
    "gs_learn_tau": ["train.estimator=gs", "tau.schedule=constant", "tau.init=0.8", "tau.learn=true"],
    "sf_ema": ["train.estimator=sf", "train.sf_baseline=ema", "train.estimator_samples=2", "train.sf_decay=0.9"],
}


def final_state(run_dir):
    state = read_tree(os.path.join(run_dir, "run.h5"), ("params", "curves/steps", "curves/epochs"))
    state.update({f"ckpt/{k}": v for k, v in read_tree(os.path.join(run_dir, "ckpt", "step_00000040.h5")).items()})
    return state


for name, overrides in CASES.items():
    straight = fresh_dir(f"{name}-straight")
    train(straight, ["run.resume=never", *overrides])
    reference = final_state(straight)
    stopped = fresh_dir(f"{name}-stopped")
    train(stopped, ["run.resume=never", "train.max_steps=21", *overrides])
    train(stopped, ["run.resume=auto", *overrides])
    failures += compare(final_state(stopped), reference, f"{name}: resumed at 21")
    if name == "gs_learn_tau":
        learned = math.exp(float(reference["params/log_tau"][0]))
        curve = reference["curves/steps/tau"]
        # the curve's tau is expf of the same float log tau (within 1 float ulp, 6e-8, of exp in
        # double): 1e-6 is 16 ulps; the curve written before the step's update is off by a step's change
        if not (learned != 0.8 and abs(curve[-1] - learned) <= 1e-6 * learned):
            failures.append(f"{name}: learned tau {learned} (from 0.8), last tau curve value {curve[-1]}")
        print(f"{name}: tau 0.8 -> {learned:.6f} after 40 steps; tau curve ends at {curve[-1]:.6f}")
    else:
        total, weight = (float(v) for v in reference["params/sf_baseline"])
        if not weight > 0:
            failures.append(f"{name}: the baseline's weight is {weight} after 40 steps")
        print(f"{name}: baseline {total / weight:.3f} (weight {weight:.4f}) after 40 steps")

# a run with tau.learn=false must not take the tau.learn run's checkpoint for its own
mismatched = os.path.join(WORK, "gs_learn_tau-stopped")
result = train(mismatched, ["run.resume=auto", "train.max_steps=45", "train.estimator=gs"], expect=4)
if "tau.learn is true in the checkpoint" not in result.stderr:
    failures.append(f"mismatched tau.learn: no message naming it:\n{result.stderr[-2000:]}")
if failures:
    sys.exit("\n".join(failures))
print("estimator state: byte-identical resume with tau.learn and with the sf moving average")
