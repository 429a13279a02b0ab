"""gsvae sweep over 4 ranks in 2 groups: one run per grid point, whose stored configs differ
from each other exactly in the swept keys (and run.dir) with the grid's values; --list and
--point agree with it; compare lists the points sorted by the final test loss in run.h5, or by
the column --sort names (the IW bound: eval's)."""
import itertools, json, os, shutil, subprocess, sys
import h5py
import yaml

gsvae, mpiexec, data_dir, work = sys.argv[1:5]
MPI_FLAGS = ["--allow-run-as-root", "--oversubscribe"]
GRID = {"tau.rate": [0.001, 0.05], "train.estimator": ["gs", "st"]}
shutil.rmtree(work, ignore_errors=True)  # a rerun starts afresh
os.makedirs(work)
sweep_file = os.path.join(work, "sweep.yaml")
with open(sweep_file, "w") as f:
    yaml.safe_dump({"base": {"device": {"backend": "cpu"}, "data": {"dir": data_dir}, "train": {"batch": 50, "epochs": 1, "seed": 5},
                             "tau.schedule": "exp", "tau.min": 0.2, "run.log_every": 2, "run.resume": "never"},
                    "grid": GRID, "groups": 2}, f)
failures = []


def run(command):
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def flat_config(run_dir):
    with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        nested = yaml.safe_load(f.attrs["config"])
        epochs = f["curves/epochs"]
        columns = {"test": float(epochs["test_loss"][-1]), "best": float(min(epochs["test_loss"][:])),
                   "relaxed": float(epochs["train_relaxed"][-1]), "unrelaxed": float(epochs["train_unrelaxed"][-1])}
    return {f"{s}.{k}": v for s, keys in nested.items() for k, v in keys.items()}, columns


sweep_dir = os.path.join(work, "sweep")
output = run([mpiexec, *MPI_FLAGS, "-np", "4", gsvae, "sweep", sweep_file, f"run.dir={sweep_dir}"])
groups_seen = {line.split()[2] for line in output.splitlines() if line.startswith("sweep: group")}
if groups_seen != {"0", "1"}:
    failures.append(f"expected points trained by groups 0 and 1, saw {groups_seen}:\n{output}")
points = sorted(os.listdir(sweep_dir))
if len(points) != 4:
    failures.append(f"expected 4 point directories, got {points}")
configs = {p: flat_config(os.path.join(sweep_dir, p)) for p in points}
expected_points = set(itertools.product(*GRID.values()))
seen = set()
for point, (config, _) in configs.items():
    seen.add((config["tau.rate"], config["train.estimator"]))
    if config["run.dir"] != os.path.join(sweep_dir, point):
        failures.append(f"{point}: run.dir {config['run.dir']}")
    for other, (other_config, _) in configs.items():
        differing = {k for k in config if config[k] != other_config[k]} - {"run.dir"}
        swept_differing = {k for k in GRID if config[k] != other_config[k]}
        if differing != swept_differing:
            failures.append(f"{point} vs {other}: differ in {differing}, the grid explains {swept_differing}")
if seen != expected_points:
    failures.append(f"grid points trained {seen}, expected {expected_points}")

listed = run([gsvae, "sweep", sweep_file, "--list", f"run.dir={sweep_dir}"]).splitlines()
if sorted(line.split()[2] for line in listed) != points or {line.split()[1] for line in listed} != {"done"}:
    failures.append(f"--list names {listed} do not match the directories {points}")
single_dir = os.path.join(work, "single")
run([mpiexec, *MPI_FLAGS, "-np", "2", gsvae, "sweep", sweep_file, "--point", "3", f"run.dir={single_dir}"])
if os.listdir(single_dir) != [listed[3].split()[2]]:
    failures.append(f"--point 3 trained {os.listdir(single_dir)}, expected {listed[3].split()[2]}")

# The IW bound compare evaluates is eval's for the same K, images and (default) seed.
IW = ["--iw", "10", "--count", "50"]
for point, (_, columns) in configs.items():
    columns["iw"] = json.loads(run([gsvae, "eval", os.path.join(sweep_dir, point), *IW, "--json"]))["neg_log_px_iw"]
for column in (None, "test", "best", "relaxed", "unrelaxed", "iw"):
    sort = (["--sort", column] if column else []) + (IW if column == "iw" else [])
    table = run([gsvae, "compare", sweep_dir, *sort, "-o", os.path.join(work, "compare.png")]).splitlines()
    order = [line.split("[")[-1].rstrip("]") for line in table[1:] if line.strip()[:1].isdigit()]
    expected_order = sorted(points, key=lambda p: configs[p][1][column or "test"])
    if order != expected_order:
        failures.append(f"compare {' '.join(sort)} order {order}, expected {expected_order}")
    if column == "iw":
        shown = {line.split("[")[-1].rstrip("]"): float(line.split()[5]) for line in table if line.strip()[:1].isdigit()}
        if any(abs(shown[p] - configs[p][1]["iw"]) > 5e-5 for p in points):  # printed to 4 decimals
            failures.append(f"compare --iw bounds {shown}, eval's {({p: configs[p][1]['iw'] for p in points})}")
    print("\n".join(table))
if failures:
    sys.exit("\n".join(failures))
