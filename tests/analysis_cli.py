"""The analysis commands on a short real run, checked against h5py, a PNG decoder written here
(zlib + struct) and a PyTorch importance-weighted bound: inspect --json, export, sample,
recon, plot, eval (-ELBO = the trainer's test loss; IW bound <= -ELBO and close to PyTorch's)."""
import csv, gzip, json, math, os, shutil, struct, subprocess, sys, zlib
import h5py
import numpy as np
import torch

gsvae, data_dir, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)  # a rerun starts afresh
os.makedirs(work)
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def run(*args):
    result = subprocess.run([gsvae, *args], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        sys.exit(f"gsvae {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def decode_png(path):
    """(width, height, channels, pixels as uint8 array) of an 8-bit non-interlaced PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]:
            raise AssertionError(f"{path}: bad CRC in {kind}")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and interlace == 0, f"{path}: depth {depth}, interlace {interlace}"
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw, stride = zlib.decompress(idat), width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1: line[i] = (line[i] + a) & 255
            elif kind == 2: line[i] = (line[i] + b) & 255
            elif kind == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, channels, np.frombuffer(b"".join(rows), np.uint8)


def check_png(path, width, height):
    w, h, _, pixels = decode_png(path)
    check((w, h) == (width, height), f"{path}: {w}x{h}, expected {width}x{height}")
    check(pixels.min() != pixels.max(), f"{path}: constant pixels")


run_dir = os.path.join(work, "run")
overrides = [f"data.dir={data_dir}", "train.batch=50", "train.epochs=2", "run.log_every=3", "train.seed=3",
             "tau.schedule=exp", "tau.rate=0.02", "tau.every=2", f"run.dir={run_dir}", "run.resume=never"]
run("train", *overrides)
h5 = h5py.File(os.path.join(run_dir, "run.h5"), "r")
steps = {k: h5["curves/steps"][k][:] for k in h5["curves/steps"]}
epochs = {k: h5["curves/epochs"][k][:] for k in h5["curves/epochs"]}
params = {k: torch.from_numpy(h5["params"][k][:]).double() for k in h5["params"]}

# inspect --json agrees with the file
info = json.loads(run("inspect", run_dir, "--json"))
check(info["kind"] == "run" and info["step"] == int(steps["step"][-1]), f"inspect step {info['step']}")
check(info["step_rows"] == len(steps["step"]) and info["epochs"] == len(epochs["epoch"]), "inspect row counts")
check(math.isclose(info["tau"], steps["tau"][-1], rel_tol=1e-12), f"inspect tau {info['tau']} vs {steps['tau'][-1]}")
for name, values in (("relaxed", steps["relaxed"]), ("unrelaxed", steps["unrelaxed"]), ("test_loss", epochs["test_loss"])):
    check(math.isclose(info[name]["last"], values[-1], rel_tol=1e-12), f"inspect {name} last")
    check(math.isclose(info[name]["best"], np.nanmin(values), rel_tol=1e-12), f"inspect {name} best")
stored = {}
for line in h5.attrs["config"].splitlines():  # nested YAML, two levels
    if line and not line.startswith((" ", "#")):
        section = line.rstrip(":").strip()
    elif ":" in line:
        key, value = line.split(":", 1)
        stored[f"{section}.{key.strip()}"] = value.split("#")[0].strip().strip('"')
check(set(info["config"]) == set(stored), f"inspect config keys {set(info['config']) ^ set(stored)}")
check(info["config"]["train.batch"] == "50" and info["config"]["tau.schedule"] == "exp", "inspect config values")
check(info["params"]["count"] == sum(v.numel() for v in params.values()), "inspect parameter count")
checkpoints = sorted(os.listdir(os.path.join(run_dir, "ckpt"))) if os.path.isdir(os.path.join(run_dir, "ckpt")) else []
if not checkpoints:  # the checks below on checkpoints would pass having checked nothing
    sys.exit(f"{run_dir}/ckpt: no checkpoint written by a 2-epoch run")
check(len(info["checkpoints"]) == len([c for c in checkpoints if c.startswith("step_")]), "inspect checkpoints")

# export: the same numbers as h5py
csv_path = os.path.join(work, "curves.csv")
run("export", run_dir, "--csv", csv_path)
for path, table in ((csv_path, steps), (os.path.join(work, "curves_epochs.csv"), epochs)):
    rows = list(csv.DictReader(open(path)))
    check(len(rows) == len(table["epoch"]), f"{path}: {len(rows)} rows")
    for column, values in table.items():
        exported = np.array([float(r[column]) if r[column] else np.nan for r in rows])
        check(np.allclose(exported, values, rtol=1e-9, equal_nan=True), f"{path}: column {column}")

# pictures
run("sample", run_dir, "-o", os.path.join(work, "samples.png"), "--grid", "3x5", "--seed", "11")
check_png(os.path.join(work, "samples.png"), 5 * 28, 3 * 28)
run("sample", os.path.join(run_dir, "ckpt", checkpoints[0]), "-o", os.path.join(work, "ckpt_samples.png"))
check_png(os.path.join(work, "ckpt_samples.png"), 8 * 28, 8 * 28)
run("recon", run_dir, "-o", os.path.join(work, "recon.png"), "--grid", "2x6", f"data.dir={data_dir}")
check_png(os.path.join(work, "recon.png"), 6 * 28, 2 * 28)
_, _, _, recon = decode_png(os.path.join(work, "recon.png"))
with gzip.open(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz")) as f:
    test_images = np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 784)
check(np.array_equal(recon.reshape(56, 168)[:28, :28], test_images[0].reshape(28, 28)), "recon: first tile is not test image 0")
run("plot", run_dir, "-o", os.path.join(work, "curves.png"))
w, h, _, pixels = decode_png(os.path.join(work, "curves.png"))
check(w > 400 and h > 300 and pixels.min() != pixels.max(), f"plot: {w}x{h}")
run("plot", run_dir, "-o", os.path.join(work, "curves.svg"))
check("<svg" in open(os.path.join(work, "curves.svg")).read(), "plot: no <svg> element")

# eval: the -ELBO on the test set is the trainer's test loss; the IW bound is below it and
# agrees with PyTorch's own estimate from independent samples, on the trained model (whose
# posterior has nearly collapsed after 2 epochs: KL ~0.01 nats) and on one with informative
# latents (its encoder's last layer and decoder's first redrawn: KL of several nats), where a
# wrong log q(z|x) or log p(z) in the importance weights moves the bound by nats.
K = 300
x = torch.from_numpy(test_images.astype(np.float64) / 255.0)


def torch_eval(params, seed):
    """PyTorch in float64: the exact KL per image and the IW bound per image from K samples of q."""
    linear = lambda h, i: h @ params[f"fc{i}.weight"].T + params[f"fc{i}.bias"]
    logits = torch.relu(linear(torch.relu(linear(torch.relu(linear(x, 1)), 2)), 3)).view(-1, 30, 10)
    log_q_table = torch.log_softmax(logits, -1)
    kl = (log_q_table.exp() * (log_q_table + math.log(10))).sum((1, 2))
    generator = torch.Generator().manual_seed(seed)
    log_weights = []
    for _ in range(K):
        z = torch.multinomial(log_q_table.exp().view(-1, 10), 1, generator=generator).view(-1, 30)
        one_hot = torch.nn.functional.one_hot(z, 10).double()
        a = linear(torch.relu(linear(torch.relu(linear(one_hot.view(-1, 300), 4)), 5)), 6)
        log_px = -(torch.nn.functional.softplus(a) - x * a).sum(1)
        log_q = log_q_table.gather(2, z.unsqueeze(2)).squeeze(2).sum(1)
        log_weights.append(log_px - 30 * math.log(10) - log_q)
    return kl, -(torch.logsumexp(torch.stack(log_weights), 0) - math.log(K))


def check_eval(label, directory, params, trainer_test_loss=None):
    result = json.loads(run("eval", directory, "--iw", str(K), "--json"))
    if trainer_test_loss is not None:
        check(math.isclose(result["neg_elbo"], trainer_test_loss, rel_tol=1e-6),
              f"{label}: eval -ELBO {result['neg_elbo']} vs the trainer's test loss {trainer_test_loss}")
    check(math.isclose(result["neg_elbo"], result["bce"] + result["kl"], rel_tol=1e-9), f"{label}: eval -ELBO != BCE + KL")
    check(result["neg_log_px_iw"] <= result["neg_elbo"], f"{label}: eval IW {result['neg_log_px_iw']} > -ELBO {result['neg_elbo']}")
    kl, iw = torch_eval(params, 1234)
    _, iw_again = torch_eval(params, 4321)
    # gsvae's IW bound and PyTorch's are means over the 200 test images of per-image estimates from
    # independent samples of the same distribution (same K, so the same bias): their difference has
    # mean 0 and variance sum_i 1.5 v_i / N^2 against the two PyTorch runs' average, where v_i, each
    # image's Monte Carlo variance, is estimated by (iw_i - iw_again_i)^2 / 2. Limit: 5 of its sd
    # (a mean of 200 independent terms is close to normal: 5 sd is exceeded with probability ~6e-7).
    torch_iw = 0.5 * (iw + iw_again).mean().item()
    sd = math.sqrt(1.5 * ((iw - iw_again) ** 2 / 2).sum().item()) / len(iw)
    limit = 5 * sd
    print(f"{label}: -ELBO {result['neg_elbo']:.3f}, IW {result['neg_log_px_iw']:.3f} (PyTorch {torch_iw:.3f}, "
          f"limit {limit:.3g}), exact KL mean {kl.mean().item():.4f} vs {result['kl']:.4f}")
    check(abs(torch_iw - result["neg_log_px_iw"]) <= limit,
          f"{label}: eval IW {result['neg_log_px_iw']} vs PyTorch {torch_iw} (limit {limit:.3g})")
    # gsvae's KL is the float32 model's: logits from float products of 784 and 200 terms (~1e-6
    # relative each), and 300 terms q (log q + log K) of at most 2 log K each summed in float (~1e-7
    # of 1400 nats): ~1e-4 nats per image at most; PyTorch's is float64 on the same parameters.
    check(abs(kl.mean().item() - result["kl"]) <= 1e-4 + 1e-5 * result["kl"], f"{label}: eval KL vs PyTorch's exact KL")
    return result, kl.mean().item()


check_eval("trained", run_dir, params, epochs["test_loss"][-1])
informative_dir = os.path.join(work, "informative")
shutil.copytree(run_dir, informative_dir)
generator = torch.Generator().manual_seed(7)
with h5py.File(os.path.join(informative_dir, "run.h5"), "r+") as f:
    # fc3 (200 -> 300 logits) redrawn: logits of spread ~5 per category, KL ~8 nats; fc4 (300
    # one-hot -> 200) redrawn small: a decoder whose output depends on z mildly, so that the IW
    # estimate's noise (its limit below: ~0.8 nats) stays well under the nats that a wrong
    # log q(z|x) or log p(z) moves it by
    for name, scale in (("fc3.weight", 0.5), ("fc3.bias", 1.0), ("fc4.weight", 0.1)):
        drawn = scale * torch.randn(f["params"][name].shape, generator=generator, dtype=torch.float64)
        f["params"][name][...] = drawn.numpy().astype(np.float32)
    informative = {k: torch.from_numpy(f["params"][k][:]).double() for k in f["params"]}
_, informative_kl = check_eval("informative", informative_dir, informative)
check(informative_kl > 3, f"informative model: KL {informative_kl:.3f}, expected several nats")

if failures:
    sys.exit("\n".join(failures))
