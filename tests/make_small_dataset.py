"""Writes a small MNIST-layout dataset (IDX, gzipped) from the first images of Debian's
Fashion-MNIST, so end-to-end tests train on real images in seconds."""
import gzip, os, struct, sys

SOURCE = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return shape, data[4 + 4 * dims:]


def load_images(prefix, source=SOURCE):
    """All images of `prefix` (train or t10k) as a float32 torch tensor, one row of pixels/255 each."""
    import numpy as np
    import torch
    (count, rows, cols), pixels = read_idx(f"{source}/{prefix}-images-idx3-ubyte.gz")
    return torch.from_numpy(np.frombuffer(pixels, np.uint8).reshape(count, rows * cols).astype(np.float32) / 255)


def write_idx(path, magic, shape, payload):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + struct.pack(">" + "I" * len(shape), *shape) + payload)


def main(out_dir, train_count, test_count):
    os.makedirs(out_dir, exist_ok=True)
    for prefix, count in (("train", train_count), ("t10k", test_count)):
        (n, rows, cols), pixels = read_idx(f"{SOURCE}/{prefix}-images-idx3-ubyte.gz")
        (_,), labels = read_idx(f"{SOURCE}/{prefix}-labels-idx1-ubyte.gz")
        write_idx(f"{out_dir}/{prefix}-images-idx3-ubyte.gz", 0x803, (count, rows, cols),
                  pixels[:count * rows * cols])
        write_idx(f"{out_dir}/{prefix}-labels-idx1-ubyte.gz", 0x801, (count,), labels[:count])


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
