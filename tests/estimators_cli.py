"""`gsvae estimators` on a short run of a 2 x 3 latent model, whose 9 configurations it enumerates:
sf (unbiased) shows no bias beyond its noise floor while gs's and st's encoder gradients (biased)
show several floors; the local-expectation
reference agrees with the enumeration within its reported error; 2 ranks give 1 rank's numbers;
the plot is a PNG; bad arguments exit 2 naming what is wrong."""
import json, os, subprocess
from ckpt_common import GSVAE, MPIEXEC, MPI_FLAGS, DATA_DIR, fresh_dir, train
from checks import check, finish

run_dir = fresh_dir("latents-2x3")
train(run_dir, ["model.latents=2", "model.categories=3", "data.binarize=dynamic", "train.epochs=2",
                "run.resume=never"])


def estimators(*args, ranks=1, expect=0, env=None):
    command = [GSVAE, "estimators", run_dir, f"data.dir={DATA_DIR}", *args]
    if ranks > 1:
        command = [MPIEXEC, *MPI_FLAGS, "-np", str(ranks), *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})
    if result.returncode != expect:
        raise SystemExit(f"{' '.join(command)} exited {result.returncode}, expected {expect}:\n"
                         f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def measures(*args, ranks=1, env=None):
    report = json.loads(estimators("--json", *args, ranks=ranks, env=env).stdout)
    return report, {(m["estimator"], m["tau"]): m for m in report["measures"]}


COMMON = ["--estimators", "sf:4,gs,st,grmck:10", "--tau", "0.5,1", "--samples", "400", "--batch", "20"]
# One BLAS thread, for the comparison with 2 ranks below.
one_thread = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
exact, by_name = measures(*COMMON, env=one_thread)
check(exact["reference"] == "exact", "2 x 3 latents: the reference is the enumeration", 0, 0)
# For an unbiased estimator |mean - g*|^2 has expectation floor^2 (the command's floor), and it is a
# positive combination of chi-square(1) variables (CLT over 400 draws); its tail is at most that of
# one of them: P(|mean - g*|^2 > 10 floor^2) <= P(chi2_1 > 10) = 1.6e-3. The reported bias is
# sqrt(|mean - g*|^2 - floor^2), so bias <= 3 floor fails a correct sf with probability < 1.6e-3.
for tau in (0.5, 1.0):
    for view in ("all", "encoder"):
        sf = by_name[("sf:4", tau)][view]
        check(sf["bias"] <= 3 * sf["floor"], f"sf:4 tau {tau} {view}: bias / floor (unbiased)",
              sf["bias"] / sf["floor"], 3)
    # the same check must fail on a biased estimator, or it shows nothing: gs's relaxed gradient at
    # tau 1, and st's there too, where its bias is largest (st's decoder gradient is unbiased: it
    # decodes a one-hot sample, so only the encoder's shows the bias)
    for name, taus in (("gs", (1.0,)), ("st", (1.0,))):
        if tau in taus:
            biased = by_name[(name, tau)]["encoder"]
            check(biased["bias"] > 3 * biased["floor"], f"{name} tau {tau} encoder: bias / floor exceeds 3 (biased)",
                  biased["bias"] / biased["floor"], 3)
    check(by_name[("grmck:10", tau)]["encoder"]["sd"] < by_name[("st", tau)]["encoder"]["sd"],
          f"tau {tau}: grmck:10's encoder sd below st's (Rao-Blackwellised)",
          by_name[("grmck:10", tau)]["encoder"]["sd"], by_name[("st", tau)]["encoder"]["sd"])

# The local expectation is unbiased with the reported error e: | |local| - |exact| | <= |local - exact|,
# whose square has expectation (e |g|)^2 and the same chi-square tail: 4 e fails with P < 6e-5.
local, _ = measures("--reference", "local", "--reference-samples", "400", "--estimators", "st", "--samples", "2",
                    "--batch", "20")
for view, index in (("all", 0), ("encoder", 1)):
    error = local["reference_error"][index] * exact["gradient_norm"][index]
    gap = abs(local["gradient_norm"][index] - exact["gradient_norm"][index])
    check(gap <= 4 * error, f"local reference's |g| ({view}) vs the enumeration's, in its reported errors",
          gap / error, 4)

# Over 2 ranks the draws and images are dealt out and summed in another order: double sums of <= 400
# terms then differ by ~1e-14 relative; the reported ratios amplify that by at most the cancellation
# in |mean - g*|^2 - floor^2, far below 1e-6. Both sides run one BLAS thread per rank: the float
# products' own bits depend on the BLAS's thread count (here ~3e-6 of the encoder's |g|), not on
# the ranks.
two, by_name_two = measures(*COMMON, ranks=2, env=one_thread)
worst = 0.0
for key, m in by_name.items():
    for view in ("all", "encoder"):
        for field in ("bias", "floor", "sd", "cosine", "cosine_of_mean"):
            worst = max(worst, abs(m[view][field] - by_name_two[key][view][field]))
check(worst <= 1e-6, "2 ranks vs 1: largest difference of a reported measure", worst, 1e-6)
norm_gap = max(abs(a - b) / b for a, b in zip(two["gradient_norm"], exact["gradient_norm"]))
check(norm_gap <= 1e-12, "2 ranks vs 1: the exact reference's norm, relative", norm_gap, 1e-12)

plot = os.path.join(run_dir, "estimators.png")
table = estimators("--estimators", "gs,st", "--samples", "4", "--batch", "5", "--tau", "0.5,1,2", "-o", plot).stdout
check(open(plot, "rb").read(8) == b"\x89PNG\r\n\x1a\n", "-o FILE.png writes a PNG", 0, 0)
check("ms/step" in table and table.count("\ngs ") == 3, "the table has a row per estimator and tau", 0, 0)

for args, expected in ((["--estimators", "gumbel"], "'gumbel' is not an estimator"),
                       (["--estimators", "st:4"], "only grmck and sf take a number of samples"),
                       (["--estimators", "sf:1"], "at least 2 samples"),
                       (["--tau", "0.5,-1"], "'-1' is not a positive temperature"),
                       (["--samples", "1"], "--samples '1': expected an integer >= 2"),
                       (["--reference", "best"], "expected auto, exact or local"),
                       (["-o", "plot.txt"], "expected a .png or .svg file name"),
                       (["--split", "valid"], "expected train or test")):
    result = estimators(*args, expect=2)
    check(expected in result.stderr, f"{' '.join(args)}: exit 2 and says '{expected}'", 0, 0)
finish()
