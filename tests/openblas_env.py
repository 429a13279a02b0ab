"""Import before torch or numpy: gives PyTorch the OpenBLAS kernels gsvae picks for itself
(src/cpu/blas_openblas.c) when Debian's OpenBLAS would fall back to Prescott on a newer CPU, so that
timings compare the same kernels."""
import os


def openblas_core_for_this_cpu():
    flags = open("/proc/cpuinfo").read()
    return "SkylakeX" if " avx512f" in flags else "Haswell" if " avx2" in flags else None


if "OPENBLAS_CORETYPE" not in os.environ and openblas_core_for_this_cpu():
    os.environ["OPENBLAS_CORETYPE"] = openblas_core_for_this_cpu()
