"""The analysis commands on runs users end up with: one that diverged, one killed with kill -9
mid-run (run.h5 without its final /params), and a truncated run.h5 beside good checkpoints. Each
command either works or exits 2-5 with a message naming the file; none ends on a signal. eval on
a diverged run exits 5 naming the run (never a NaN bound with exit 0); eval and sample on a run
whose run.h5 has no parameters, or cannot be read, use its newest checkpoint and say so."""
import json, os, shutil, signal, subprocess, sys, time
import h5py

gsvae, data_dir, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failures = []
SMALL = [f"data.dir={data_dir}", "model.hidden=64,32", "run.resume=never"]


def run(*args):
    return subprocess.run([gsvae, *args], capture_output=True, text=True, timeout=300, cwd=work)


def expect(label, result, codes, words=()):
    """exit code among `codes`, never a signal; words in stderr when it failed, in stdout when not"""
    text = result.stderr if result.returncode else result.stdout
    if result.returncode not in codes or not all(w in text for w in words):
        failures.append(f"{label}: exit {result.returncode} (want {codes}), wanted {list(words)} in:\n"
                        f"{result.stdout[-800:]}{result.stderr[-800:]}")
    else:
        print(f"{label}: exit {result.returncode}: {text.strip().splitlines()[-1][:140] if text.strip() else ''}")


# A diverged run: curves end in non-finite steps; inspect, plot and export show them, eval refuses.
diverged = os.path.join(work, "diverged")
expect("train, lr 1e30", run("train", *SMALL, f"run.dir={diverged}", "train.lr=1e30", "train.max_bad_steps=3",
                             "run.ckpt_every=1", "run.log_every=1"), (5,), ["non-finite"])
result = run("inspect", diverged, "--json")
expect("inspect a diverged run", result, (0,))
if result.returncode == 0 and json.loads(result.stdout)["relaxed"]["last"] is not None:
    failures.append(f"inspect a diverged run: the last relaxed loss is {json.loads(result.stdout)['relaxed']['last']}")
expect("plot a diverged run", run("plot", diverged, "-o", "diverged.png"), (0,))
expect("export a diverged run", run("export", diverged, "--csv", "diverged.csv"), (0,))
expect("eval a diverged run", run("eval", diverged, "--iw", "3"), (5,), ["diverged", "not finite", diverged])

# kill -9 mid-run: run.h5 has curves but not yet /params (written at the end); checkpoints exist.
killed = os.path.join(work, "killed")
process = subprocess.Popen([gsvae, "train", *SMALL, f"run.dir={killed}", "train.epochs=100", "run.log_every=1",
                            "run.ckpt_every=5"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
deadline = time.time() + 120
while time.time() < deadline and process.poll() is None:
    checkpoints = sorted(os.listdir(os.path.join(killed, "ckpt"))) if os.path.isdir(os.path.join(killed, "ckpt")) else []
    if len([c for c in checkpoints if c.startswith("step_")]) >= 2:
        break
    time.sleep(0.01)
if process.poll() is not None:
    sys.exit("the run to kill ended before it could be killed; make it longer")
process.send_signal(signal.SIGKILL)
process.wait()
newest = sorted(c for c in os.listdir(os.path.join(killed, "ckpt")) if c.startswith("step_"))[-1]
for command in (["inspect", killed], ["plot", killed, "-o", "killed.png"], ["export", killed, "--csv", "killed.csv"]):
    result = run(*command)
    expect(f"{command[0]} a killed run", result, (0, 2), [killed] if result.returncode else [])
expect("eval a killed run", run("eval", killed), (0,), ["ckpt/step_"])
expect("sample a killed run", run("sample", killed, "-o", "killed_samples.png"), (0,), ["ckpt/step_"])

# run.h5 truncated beside good checkpoints: the commands reading it name it; eval and sample take
# the newest checkpoint.
truncated = os.path.join(work, "truncated")
expect("train", run("train", *SMALL, f"run.dir={truncated}", "train.max_steps=30", "run.ckpt_every=10"), (0,))
path = os.path.join(truncated, "run.h5")
with open(path, "r+b") as f:
    f.truncate(os.path.getsize(path) // 2)
for command in (["inspect", truncated], ["plot", truncated, "-o", "truncated.png"],
                ["export", truncated, "--csv", "truncated.csv"]):
    expect(f"{command[0]} with run.h5 truncated", run(*command), (2,), [path])
expect("eval with run.h5 truncated", run("eval", truncated), (0,), ["ckpt/step_00000030.h5"])
expect("sample with run.h5 truncated", run("sample", truncated, "-o", "truncated_samples.png"), (0,),
       ["ckpt/step_00000030.h5"])

if failures:
    sys.exit("\n".join(failures))
