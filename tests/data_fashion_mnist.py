"""The real Fashion-MNIST loads: 60000/10000 images of 28x28, labels < 10, and every byte as
numpy reads the files independently (sums and a position-weighted sum). Exit 77 (skip) if absent."""
import gzip, os, struct, subprocess, sys
import numpy as np

summary_bin, data_dir = sys.argv[1], sys.argv[2]
if not os.path.isdir(data_dir):
    print(f"{data_dir} is not installed (Debian's dataset-fashion-mnist): skipping")
    sys.exit(77)


def read_idx(name):
    path = os.path.join(data_dir, name)
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = f.read()
    else:
        with gzip.open(path + ".gz", "rb") as f:
            data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


out = subprocess.run([summary_bin, data_dir], capture_output=True, text=True)
assert out.returncode == 0, out.stderr
lines = {line.split()[0]: line.split() for line in out.stdout.strip().splitlines()}
expected = {"train": 60000, "test": 10000}
failures = 0
for split, prefix in (("train", "train"), ("test", "t10k")):
    images, labels = read_idx(f"{prefix}-images-idx3-ubyte"), read_idx(f"{prefix}-labels-idx1-ubyte")
    fields = lines[split]
    got = dict(zip(fields[1:10:2], map(int, fields[2:11:2])))
    histogram = np.array(list(map(int, fields[12:])))
    flat = images.reshape(-1).astype(np.int64)
    want = {"count": expected[split], "rows": 28, "cols": 28, "pixel_sum": int(flat.sum()),
            "weighted_sum": int((flat * (np.arange(flat.size) % 251 + 1)).sum())}
    for key, value in want.items():
        if got[key] != value:
            print(f"FAIL {split} {key}: gsvae {got[key]}, expected {value}")
            failures += 1
    if not np.array_equal(histogram, np.bincount(labels, minlength=256)):
        print(f"FAIL {split}: label histogram differs")
        failures += 1
    if histogram[10:].any():
        print(f"FAIL {split}: labels >= 10")
        failures += 1
    print(f"{split}: {got} labels {histogram[:10].tolist()}")
sys.exit(1 if failures else 0)
