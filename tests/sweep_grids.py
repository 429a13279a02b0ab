"""gsvae sweep on grids that do not divide among the groups, a few steps a point:
- every shipped sweep file (configs/sweep_*.yaml: 21 and 8 points) on 3 and 4 ranks;
- 5 points in groups of 2 ranks (4 ranks), dynamic and static hand-out;
each trains every point exactly once, to the steps asked, and `--list` says done (before the
node view was found once before the split, the set-up's world collective killed such grids).
Then the hand-out order (longest expected first, one group), and a grid where some points
diverge: the others finish, the sweep exits 5, the state files, --list and compare say failed,
and a rerun trains only the failed and unfinished points; a stop signal mid-sweep: exit 75, the
points in progress interrupted, and the rerun resumes them and trains the rest."""
import glob, os, re, shutil, signal, subprocess, sys
import h5py
import yaml

gsvae, mpiexec, data_dir, source_dir, work = sys.argv[1:6]
MPI_FLAGS = ["--allow-run-as-root", "--oversubscribe"]
STEPS = 2
# Few, small steps: the small data, 50-image batches, a small network (not swept by any file).
FAST = [f"data.dir={data_dir}", f"train.max_steps={STEPS}", "train.batch=50", "model.hidden=64",
        "run.log_every=1", "run.watchdog=120"]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failures = []


def sweep(ranks, sweep_file, *overrides, expect=0):
    command = [mpiexec, *MPI_FLAGS, "-np", str(ranks), gsvae, "sweep", sweep_file, *overrides]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if result.returncode != expect:
        sys.exit(f"{' '.join(command)} exited {result.returncode}, expected {expect}:\n"
                 f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    trained = [int(m.group(2)) for m in re.finditer(r"^sweep: group (\d+) \(\d+ ranks\) trains point (\d+):",
                                                      result.stdout, re.M)]
    groups = [int(m.group(1)) for m in re.finditer(r"^sweep: group (\d+) \(\d+ ranks\) trains point (\d+):",
                                                     result.stdout, re.M)]
    return trained, groups, result


def listed(sweep_file, *overrides):
    """--list as {index: (state, name)}."""
    out = subprocess.run([gsvae, "sweep", sweep_file, "--list", *overrides], capture_output=True, text=True,
                         check=True).stdout
    return {int(line.split()[0]): (line.split()[1], line.split()[2]) for line in out.splitlines()}


def steps_logged(run_dir):
    with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        return int(f["curves/steps/step"][-1])


def check_all_done(label, sweep_file, sweep_dir, trained, overrides):
    points = listed(sweep_file, *overrides)
    if sorted(trained) != sorted(points):
        failures.append(f"{label}: trained {sorted(trained)}, expected each of {sorted(points)} once")
    for index, (state, name) in points.items():
        if state != "done":
            failures.append(f"{label}: point {index} {name} is '{state}' after the sweep")
        elif steps_logged(os.path.join(sweep_dir, name)) != STEPS:
            failures.append(f"{label}: point {index} logged {steps_logged(os.path.join(sweep_dir, name))} steps")
    return points


# Every shipped sweep file on 3 and 4 ranks, one group per rank: 21 points on 3 and 4 groups and
# 8 points on 3 leave groups idle at the end; 8 on 4 divides.
for sweep_file in sorted(glob.glob(os.path.join(source_dir, "configs", "sweep_*.yaml"))):
    for ranks in (3, 4):
        label = f"{os.path.basename(sweep_file)} on {ranks} ranks"
        sweep_dir = os.path.join(work, f"{os.path.basename(sweep_file)[:-5]}_{ranks}")
        overrides = [*FAST, f"run.dir={sweep_dir}"]
        trained, groups, _ = sweep(ranks, sweep_file, *overrides)
        check_all_done(label, sweep_file, sweep_dir, trained, overrides)
        if set(groups) != set(range(ranks)):
            failures.append(f"{label}: groups {sorted(set(groups))} trained points, expected all {ranks}")

# 5 points, 2 groups of 2 ranks; static: group g trains points g, g + 2, ... in grid order.
ESTIMATORS = ["gs", "st", "sf", "grmck", "reinmax"]
for handout in ("dynamic", "static"):
    sweep_file = os.path.join(work, f"five_{handout}.yaml")
    with open(sweep_file, "w") as f:
        yaml.safe_dump({"base": {"train.estimator_samples": 10}, "grid": {"train.estimator": ESTIMATORS},
                        "groups": 2, "handout": handout}, f)
    sweep_dir = os.path.join(work, f"five_{handout}")
    overrides = [*FAST, f"run.dir={sweep_dir}"]
    trained, groups, _ = sweep(4, sweep_file, *overrides)
    check_all_done(f"5 points in 2 groups of 2, {handout}", sweep_file, sweep_dir, trained, overrides)
    if handout == "static":
        by_group = {g: [p for p, q in zip(trained, groups) if q == g] for g in (0, 1)}
        if by_group != {0: [0, 2, 4], 1: [1, 3]}:
            failures.append(f"static hand-out: groups trained {by_group}, expected {{0: [0, 2, 4], 1: [1, 3]}}")

# One group: the hand-out order is the expected-cost order of cmd_sweep.c, sf with 10 samples
# (1 + 9/4) before grmck with 10 (1 + 10/100) before the rest (1), equal costs in grid order.
sweep_file = os.path.join(work, "order.yaml")
with open(sweep_file, "w") as f:
    yaml.safe_dump({"base": {"train.estimator_samples": 10}, "grid": {"train.estimator": ESTIMATORS}, "groups": 1}, f)
trained, _, _ = sweep(2, sweep_file, *FAST, f"run.dir={os.path.join(work, 'order')}")
if trained != [2, 3, 0, 1, 4]:
    failures.append(f"one group trained points in the order {trained}, expected longest first: [2, 3, 0, 1, 4]")

# Divergence: train.lr=1e30 makes every step non-finite; two non-finite steps in a row end a run (exit 5).
sweep_file = os.path.join(work, "diverge.yaml")
with open(sweep_file, "w") as f:
    yaml.safe_dump({"base": {"train.max_bad_steps": 2}, "grid": {"train.lr": [0.001, 1e30], "train.estimator": ["gs", "st"]}},
                   f, sort_keys=False)
sweep_dir = os.path.join(work, "diverge")
overrides = [*FAST, "train.max_steps=10", f"run.dir={sweep_dir}"]  # one epoch: a test loss to rank by
trained, _, result = sweep(3, sweep_file, *overrides, expect=5)
points = listed(sweep_file, *overrides)
if sorted(trained) != [0, 1, 2, 3]:
    failures.append(f"diverging grid: trained {trained}, expected each of 0..3 once")
for index, (state, name) in points.items():
    expected = "failed" if index >= 2 else "done"
    if state != expected:
        failures.append(f"diverging grid: point {index} {name} is '{state}', expected '{expected}'")
    with open(os.path.join(sweep_dir, name, "sweep_point.txt")) as f:
        status = dict(line.rstrip("\n").split(": ", 1) for line in f)
    status["exit_code"] = int(status["exit_code"])
    if expected == "failed" and (status["exit_code"] != 5 or "non-finite" not in status["message"]):
        failures.append(f"diverging grid: point {index} recorded {status}")
table = subprocess.run([gsvae, "compare", sweep_dir, "-o", os.path.join(work, "diverge.png")], capture_output=True,
                       text=True, check=True).stdout
rows = {line.split("[")[1].split("]")[0]: line for line in table.splitlines() if "[" in line}
for index, (state, name) in points.items():
    row = rows.get(name, "")
    if state == "failed" and not (row.split()[:2] == ["-", "failed"] and "exit 5" in row):
        failures.append(f"compare lists failed point {name} as: {row!r}")
    if state == "done" and (not row.split()[0].isdigit() or "nan" in row.lower()):
        failures.append(f"compare lists done point {name} as: {row!r}")
# A point whose job was killed mid-run still says running: a rerun retries it with the failed ones.
status_file = os.path.join(sweep_dir, points[0][1], "sweep_point.txt")
with open(status_file) as f:
    text = f.read()
with open(status_file, "w") as f:
    f.write(text.replace("state: done", "state: running"))
trained, _, result = sweep(3, sweep_file, *overrides, expect=5)
if sorted(trained) != [0, 2, 3]:
    failures.append(f"rerun trained {sorted(trained)}, expected the failed points 2, 3 and the unfinished 0")
if "resuming from" not in result.stdout:
    failures.append("the rerun of the unfinished point did not resume from its checkpoint")

# A stop signal (SIGUSR1 through mpirun, as Slurm sends before the time limit): the points in
# progress checkpoint and stop, no more are handed out, the sweep exits 75; the rerun (the
# requeued job) resumes those and trains the rest, each once.
sweep_file = os.path.join(work, "stop.yaml")
with open(sweep_file, "w") as f:
    yaml.safe_dump({"grid": {"train.estimator": ESTIMATORS}, "groups": 2}, f)
sweep_dir = os.path.join(work, "stop")
overrides = [*FAST, "train.max_steps=1500", "run.ckpt_every=0", f"run.dir={sweep_dir}"]
process = subprocess.Popen([mpiexec, *MPI_FLAGS, "-np", "2", gsvae, "sweep", sweep_file, *overrides],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
started, steps_seen = 0, 0
for line in process.stdout:  # both groups on a point, and some steps of it
    started += line.startswith("sweep: group")
    steps_seen += started == 2 and line.startswith("step")
    if steps_seen >= 20:
        break
process.send_signal(signal.SIGUSR1)
out, err = process.communicate(timeout=300)
states = {index: state for index, (state, _) in listed(sweep_file, *overrides).items()}
print(f"after the stop signal: exit {process.returncode}, points {states}")
if process.returncode != 75:
    failures.append(f"stopped sweep exited {process.returncode}, expected 75:\n{err[-2000:]}")
if "running" in states.values() or "interrupted" not in states.values() or "todo" not in states.values():
    failures.append(f"after the stop signal the points are {states}: expected interrupted ones, points to do, none running")
trained, _, result = sweep(2, sweep_file, *overrides)
if sorted(trained) != sorted(p for p, state in states.items() if state != "done"):
    failures.append(f"the rerun after the stop trained {sorted(trained)}, the points not done were {states}")
if result.stdout.count("resuming from") != list(states.values()).count("interrupted"):
    failures.append(f"the rerun resumed {result.stdout.count('resuming from')} point(s), {states} were interrupted")
if {state for state, _ in listed(sweep_file, *overrides).values()} != {"done"}:
    failures.append(f"after the rerun: {listed(sweep_file, *overrides)}")

if failures:
    sys.exit("\n".join(failures))
print("sweep_grids: all checks passed")
