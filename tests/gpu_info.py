"""`gsvae info` on any build: exit 0, and the versions it names agree with what h5py, mpirun and
nvidia-smi report independently; with no GPU it must say so. Usage: gpu_info.py GSVAE_BIN"""
import re
import shutil
import subprocess
import sys

import h5py

out = subprocess.run([sys.argv[1], "info"], capture_output=True, text=True, timeout=120)
print(out.stdout, out.stderr, sep="")
failures = []
if out.returncode != 0:
    failures.append(f"exit code {out.returncode}")
text = out.stdout
if not re.search(r"^gsvae \d+\.\d+\.\d+", text, re.M):
    failures.append("no 'gsvae X.Y.Z' version line")
hdf5 = re.search(r"HDF5\s+(\S+)", text)
if not hdf5 or hdf5.group(1) != h5py.version.hdf5_version:
    failures.append(f"HDF5 version {hdf5 and hdf5.group(1)} != h5py's {h5py.version.hdf5_version}")
mpirun = subprocess.run(["mpirun", "--version"], capture_output=True, text=True).stdout
mpi_version = re.search(r"(\d+\.\d+\.\d+)", mpirun)
mpi_line = re.search(r"^\s*MPI\s+(.*)$", text, re.M)
if not mpi_version or not mpi_line or mpi_version.group(1) not in mpi_line.group(1):
    failures.append(f"MPI line {mpi_line and mpi_line.group(1)!r} does not name mpirun's {mpi_version and mpi_version.group(1)}")
if not re.search(r"^\s*BLAS\s+(OpenBLAS|oneDNN) \d.*, kernels \S", text, re.M):
    failures.append("no BLAS line naming OpenBLAS's configuration or oneDNN's version, and the kernels")

gpus = []
if shutil.which("nvidia-smi"):
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True)
    if smi.returncode == 0:
        gpus = [line.strip() for line in smi.stdout.splitlines() if line.strip()]
built_with_cuda = "CUDA runtime" in text
if gpus and built_with_cuda:
    for name in gpus:
        if name not in text:
            failures.append(f"nvidia-smi's GPU {name!r} not listed")
elif "no GPU visible" not in text:
    failures.append("no GPU here (or no CUDA build), but 'no GPU visible' is not printed")

for failure in failures:
    print("FAIL:", failure)
sys.exit(1 if failures else 0)
