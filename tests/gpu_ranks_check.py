"""The multi-rank GPU logic on one GPU, and the GPU's faults, for tests/gpu_check.sh:
  1. 1, 2, 3 and 4 ranks sharing the GPU with device.comm=mpi train.deterministic=true end an epoch
     with byte-identical parameters, Adam moments and curves, equal bit for bit to NCCL at one rank
     (the staged communicator moves the same pieces and folds them with the same kernel);
  2. resume across devices: GPU to CPU and CPU to GPU continue from the checkpoint's step with its
     moments (the loss after the switch within 2% of the uninterrupted run's: the same data, noise
     and state, different rounding only, over half an epoch); GPU to GPU is bit-exact;
  3. faults: divergence exits 5, SIGUSR1 exits 75 with a checkpoint, a stopped peer ends the job
     within device.timeout naming the collective, the step and the rank, and two NCCL ranks on one
     GPU are refused with exit 2.
usage: gpu_ranks_check.py GSVAE MPIEXEC DATA_DIR WORK_DIR [cuda|cpu]
With cpu (no GPU at hand) the same steps run on CPU ranks, which checks the script itself; the
GPU-only steps (NCCL, the refusal, device switches) are skipped there, and say so."""
import os, shutil, signal, subprocess, sys, time
import h5py
import numpy as np

GSVAE, MPIEXEC, DATA, WORK = sys.argv[1:5]
DEVICE = sys.argv[5] if len(sys.argv) > 5 else "cuda"
MPI_FLAGS = ["--allow-run-as-root", "--oversubscribe"]
BASE = [f"data.dir={DATA}", "train.epochs=1", "train.deterministic=true", "run.log_every=10", "run.keep=100",
        "run.ckpt_every=0", "run.resume=never"]
GROUPS = ("params", "optimizer/exp_avg", "optimizer/exp_avg_sq", "curves/steps", "curves/epochs")
failures = []


def check(ok, what):
    print(("ok      " if ok else "FAILED  ") + what, flush=True)
    if not ok:
        failures.append(what)


def command(name, ranks, overrides):
    run_dir = os.path.join(WORK, name)
    args = [GSVAE, "train", *BASE, *overrides, f"run.dir={run_dir}"]
    return run_dir, ([MPIEXEC, *MPI_FLAGS, "-np", str(ranks), *args] if ranks > 1 else args)


def train(name, ranks=1, overrides=(), expect=0, fresh=True):
    run_dir, cmd = command(name, ranks, overrides)
    if fresh:
        shutil.rmtree(run_dir, ignore_errors=True)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    check(result.returncode == expect, f"{name}: {ranks} rank(s) {' '.join(overrides)} exits {expect} "
          f"(got {result.returncode}){'' if result.returncode == expect else chr(10) + result.stderr[-2000:]}")
    return run_dir, result


def tree(path, groups=GROUPS):
    out = {}
    with h5py.File(path, "r") as f:
        for group in groups:
            if group in f:
                for name, item in f[group].items():
                    out[f"{group}/{name}"] = item[()]
    return out


def same_bytes(a, b):
    return a.keys() == b.keys() and all(a[k].tobytes() == b[k].tobytes() for k in a)


def start(name, ranks, overrides):
    """A run in the background, returned once it has begun training (run.h5 written)."""
    run_dir, cmd = command(name, ranks, overrides)
    shutil.rmtree(run_dir, ignore_errors=True)
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(600):
        if os.path.exists(os.path.join(run_dir, "run.h5")):
            break
        time.sleep(0.1)
    return run_dir, process


def last_epoch_loss(run_dir):
    with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        return float(f["curves/epochs/train_relaxed"][-1])


os.makedirs(WORK, exist_ok=True)
device = [f"device.backend={DEVICE}"]
gpu = DEVICE == "cuda"

# 1. ranks sharing the GPU through MPI, against NCCL at one rank
runs = {}
for ranks in (1, 2, 3, 4):
    run_dir, _ = train(f"mpi_{ranks}", ranks, device + ["device.comm=mpi"])
    runs[ranks] = tree(os.path.join(run_dir, "run.h5"))
    check(len(runs[ranks].get("params/fc1.weight", [])) > 0, f"mpi_{ranks}: parameters written")
for ranks in (2, 3, 4):
    check(same_bytes(runs[1], runs[ranks]), f"device.comm=mpi: {ranks} ranks give 1 rank's bytes (params, moments, curves)")
if gpu:
    run_dir, _ = train("nccl_1", 1, device + ["device.comm=nccl"])
    check(same_bytes(runs[1], tree(os.path.join(run_dir, "run.h5"))), "device.comm=mpi at 1 rank equals NCCL bit for bit")
    _, result = train("nccl_shared", 2, device + ["device.comm=nccl"], expect=2)
    check("would share GPU" in result.stderr and "device.comm=mpi" in result.stderr,
          "two NCCL ranks on one GPU: refused naming the fix")
else:
    print("skipped NCCL and its refusal: no GPU")

# 2. resume: half an epoch on one device, the rest on the other (or the same)
whole, _ = train("whole", 1, device)
whole_loss = last_epoch_loss(whole)
with h5py.File(os.path.join(whole, "run.h5"), "r") as f:
    steps = int(f["curves/steps/step"][-1])
half = steps // 2
pairs = [("cuda", "cuda"), ("cuda", "cpu"), ("cpu", "cuda")] if gpu else [("cpu", "cpu")]
for first, second in pairs:
    name = f"resume_{first}_{second}"
    run_dir, _ = train(name, 1, [f"device.backend={first}", f"train.max_steps={half}"])
    _, result = train(name, 1, [f"device.backend={second}", "run.resume=auto"], fresh=False)
    check("resuming from" in result.stdout + result.stderr, f"{name}: resumed from the checkpoint of step {half}")
    resumed = tree(os.path.join(run_dir, "run.h5"))
    if first == second:  # the curves hold one more row, at the stop, so the state alone is compared
        state = ("params", "optimizer/exp_avg", "optimizer/exp_avg_sq")
        check(same_bytes(tree(os.path.join(whole, "run.h5"), state), tree(os.path.join(run_dir, "run.h5"), state)),
              f"{name}: parameters and moments bit-exact against the uninterrupted run")
    else:
        loss = last_epoch_loss(run_dir)
        check(abs(loss - whole_loss) <= 0.02 * abs(whole_loss), f"{name}: epoch loss {loss:.3f} within 2% of {whole_loss:.3f}")
        check(float(np.abs(resumed["optimizer/exp_avg_sq/fc1.weight"]).max()) > 0, f"{name}: Adam moments carried")

# 3. faults
train("diverge", 1, device + ["train.lr=1e30", "train.max_bad_steps=3"], expect=5)
run_dir, process = start("sigusr1", 1, device + ["train.epochs=50"])
time.sleep(1)
process.send_signal(signal.SIGUSR1)
_, err = process.communicate(timeout=300)
ckpt_dir = os.path.join(run_dir, "ckpt")
check(process.returncode == 75 and os.path.isdir(ckpt_dir) and os.listdir(ckpt_dir),
      f"SIGUSR1: checkpoint and exit 75 (exit {process.returncode}; {err.strip()[-300:]})")
if gpu:  # a peer stopped mid-run: the other rank's polled wait ends the job after device.timeout
    run_dir, process = start("stuck_peer", 2, device + ["device.comm=mpi", "device.timeout=15", "train.epochs=50",
                                                        "run.watchdog=600"])
    time.sleep(2)
    ranks = subprocess.run(["pgrep", "-f", f"^{GSVAE} train .*run.dir={run_dir}"], capture_output=True, text=True)
    victim = int(ranks.stdout.split()[-1])
    os.kill(victim, signal.SIGSTOP)
    started = time.time()
    try:
        _, err = process.communicate(timeout=120)
    finally:
        os.kill(victim, signal.SIGCONT)
    took = time.time() - started
    check(process.returncode != 0 and took < 60 and "device.timeout" in err and "step" in err and "rank" in err,
          f"a stopped peer: the job ended in {took:.0f} s naming the collective, step and rank ({err.strip()[-300:]})")
else:
    print("skipped the stopped peer: the CPU ranks' guard is the step watchdog (tests/train_watchdog.sh)")

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
