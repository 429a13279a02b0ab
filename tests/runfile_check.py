"""Reads the run.h5 that runfile_write made and checks, with h5py, the attributes, the env group,
the curve datasets (dtype, growable chunked layout, values after appends) and /params
(state_dict names and shapes of the seed model, values in flat-buffer order)."""
import os
import re
import sys

import h5py
import numpy as np

path = sys.argv[1]
source_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


config_yaml = "data:\n  dir: /tmp/data\nmodel:\n  latents: 30\n  categories: 10\n# τ schedule: exp\n"
with h5py.File(path, "r") as f:
    check(f.libver == ("v110", "v110") or f.libver[0] in ("v110", "latest"), f"libver {f.libver}")
    check(f.attrs["format"] == "gsvae-run-1", f"format attribute {f.attrs['format']!r}")
    check(f.attrs["config"] == config_yaml, f"config attribute {f.attrs['config']!r}")
    env = f["env"].attrs
    check(int(env["ranks"]) == 4, f"env ranks {env['ranks']}")
    check(env["backend"] == "cpu", f"env backend {env['backend']!r}")
    version = re.search(r'GSVAE_VERSION "([^"]+)"', open(os.path.join(source_dir, "src/core/version.h")).read())[1]
    check(env["gsvae_version"] == version, f"env gsvae_version {env['gsvae_version']!r} (cli.h: {version})")
    # runfile_write sets no mode: a fresh process's IEEE; training sets train.flush_denormals first
    check(env["float_mode"] == "ieee", f"env float_mode {env['float_mode']!r}")
    check(len(env["blas_kernels"]) > 0, "env blas_kernels empty")
    check(re.fullmatch(r"SLEEF \d+\.\d+\.\d+ deterministic \(cinz\), (AVX|SSE2|scalar)", env["exp_log"]) is not None,
          f"env exp_log {env['exp_log']!r}")
    check(env["hdf5_version"] == "%d.%d.%d" % h5py.h5.get_libversion(),
          f"env hdf5_version {env['hdf5_version']!r} vs h5py's {h5py.h5.get_libversion()}")
    check("Open MPI" in env["mpi_version"] or "MPICH" in env["mpi_version"], f"env mpi_version {env['mpi_version']!r}")
    check(env["blas"].startswith(("OpenBLAS", "oneDNN")), f"env blas {env['blas']!r}")
    check(len(env["hostname"]) > 0, "env hostname empty")
    check(len(env["start_time"]) == 20 and env["start_time"][10] == "T" and env["start_time"].endswith("Z"),
          f"env start_time {env['start_time']!r}")
    for key in sorted(env):
        print(f"env/{key}: {str(env[key]).splitlines()[0][:70]}")

    # steps: rows 0-4 from the first sync, rows 5-7 appended by the third
    i = np.arange(8)
    kl = 0.25 * i
    kl[2] = np.nan
    steps = {"step": (np.int64, 10 * (i + 1)), "epoch": (np.int64, 1 + i // 4), "tau": (np.float64, 1.0 / (i + 1)),
             "relaxed": (np.float64, 500.0 - i), "unrelaxed": (np.float64, 510.0 - i),
             "bce": (np.float64, 400.0 - 0.5 * i), "kl": (np.float64, kl), "skipped": (np.int64, i % 3)}
    epochs = {"epoch": (np.int64, np.array([1, 2])), "train_relaxed": (np.float64, np.array([300.0, 299.0])),
              "train_unrelaxed": (np.float64, np.array([310.0, 309.0])),
              "test_loss": (np.float64, np.array([305.5, 304.5]))}
    for group, columns in (("steps", steps), ("epochs", epochs)):
        check(sorted(f["curves"][group]) == sorted(columns), f"curves/{group} holds {sorted(f['curves'][group])}")
        for name, (dtype, want) in columns.items():
            d = f["curves"][group][name]
            check(d.dtype == dtype, f"curves/{group}/{name} dtype {d.dtype}, want {np.dtype(dtype)}")
            check(d.maxshape == (None,) and d.chunks is not None, f"curves/{group}/{name} not chunked+unlimited")
            got = d[:]
            check(got.shape == want.shape and np.array_equal(got, want, equal_nan=True),
                  f"curves/{group}/{name} = {got.tolist()}, want {want.tolist()}")

    # params: the seed model's state_dict, contiguous in state_dict order
    sizes = [784, 512, 256, 300, 256, 512, 784]
    want_shapes, offset = [], 0
    for layer in range(6):
        out, inp = sizes[layer + 1], sizes[layer]
        want_shapes += [(f"fc{layer + 1}.weight", (out, inp)), (f"fc{layer + 1}.bias", (out,))]
    total = sum(int(np.prod(shape)) for _, shape in want_shapes)
    flat = (np.arange(total) % 977 / 977.0 - 0.25).astype(np.float32)
    check(sorted(f["params"]) == sorted(name for name, _ in want_shapes), f"params holds {sorted(f['params'])}")
    for name, shape in want_shapes:
        d = f["params"][name]
        count = int(np.prod(shape))
        check(d.shape == shape and d.dtype == np.float32, f"params/{name} {d.shape} {d.dtype}, want {shape} float32")
        check(np.array_equal(d[:].reshape(-1), flat[offset:offset + count]), f"params/{name} values differ")
        offset += count
    print("params:", ", ".join(f"{name} {f['params'][name].shape}" for name, _ in want_shapes[:2]), "...")

with h5py.File(path, "r", swmr=True) as f:  # readers follow a training run this way
    check(f["curves/steps/step"].shape == (8,), "SWMR reader sees a different steps length")

for message in failures:
    print("FAIL", message)
sys.exit(1 if failures else 0)
