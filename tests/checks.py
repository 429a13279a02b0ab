"""The check lines of the Python numerical tests: what was measured, its value and limit, ok or
FAILED; relative errors in norm; and the exit that fails the test when any check did."""
import sys

import numpy as np

failures = []


def check(ok, what, value, limit, quiet=False):
    """One check; quiet ones print only when they fail."""
    if not ok or not quiet:
        print(f"{what:<78} {value:10.3e} (limit {limit:.1e}) {'ok' if ok else 'FAILED'}")
    if not ok:
        failures.append(what)


def relative(a, b):
    """|a - b| / |b| in the 2-norm, in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def finish():
    if failures:
        print(f"{len(failures)} check(s) FAILED")
        sys.exit(1)
    print("all checks passed")
