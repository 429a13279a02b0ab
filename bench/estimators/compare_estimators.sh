#!/usr/bin/env bash
# Every estimator on the papers' MNIST-VAE (configs/mnist_vae.yaml: dynamically binarized images
# unless data.binarize=none is given) at one temperature over several seeds: final train -ELBO (the unrelaxed objective
# of the last epoch) and test -ELBO and importance-weighted bound (gsvae eval --iw), mean +- sd per
# estimator, into a Markdown table (OUT.md) and the per-run values as tab-separated columns (OUT.tsv:
# estimator, seed, train -ELBO, test -ELBO, bound, seconds) for bench/estimators/summarize_estimators.py.
#
#   bench/estimators/compare_estimators.sh OUT_CxL.md [EPOCHS [SEEDS [key=value ...]]]   (3 epochs, 3 seeds)
#
# OUT's name ends in the shape as the ReinMax authors write it, C x L = --categorical-dim x
# --latent-dim: L variables (model.latents) of C classes (model.categories); the script refuses a
# name whose shape is not the config's, so that no table is filed under a transposed shape. E.g.
#   bench/estimators/compare_estimators.sh bench/estimators/results/estimators_binarized_16x12.md 3 3 model.categories=16 model.latents=12
#   bench/estimators/compare_estimators.sh bench/estimators/results/estimators_grey_8x4.md 3 3 data.binarize=none
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$1 epochs=${2:-3} seeds=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
estimators="gs st st_softmax gst grmck reinmax sf"
iw=${GSVAE_COMPARE_IW:-100} count=${GSVAE_COMPARE_COUNT:-2000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gsvae=build/gsvae
resolved=$("$gsvae" config configs/mnist_vae.yaml "$@")
value() { sed -nE "s/^  $1: (.*)/\1/p" <<<"$resolved"; }
categories=$(value categories) latents=$(value latents) binarize=$(value binarize)
if [[ ! $out =~ _${categories}x${latents}\.md$ ]]; then
  echo "compare_estimators.sh: $out: the config is ${categories}x${latents} (C x L: $latents variables of $categories" \
       "classes); name OUT ..._${categories}x${latents}.md" >&2
  exit 2
fi
case $binarize in dynamic) images="dynamically binarized" ;; static) images="statically binarized" ;;
  *) images="grey-level" ;; esac
rows="" runs="" tsv=""
for estimator in $estimators; do
  values=""
  for ((seed = 1; seed <= seeds; seed++)); do
    dir="$work/$estimator-$seed"
    start=$SECONDS
    "$gsvae" train configs/mnist_vae.yaml "train.estimator=$estimator" "train.seed=$seed" "train.epochs=$epochs" \
      run.log_every=600 run.ckpt_every=0 run.resume=never "run.dir=$dir" "$@" >"$dir.log"
    seconds=$((SECONDS - start))
    train=$(grep '^epoch' "$dir.log" | tail -1 | sed -E 's/.*train unrelaxed ([0-9.]+).*/\1/')
    eval_out=$("$gsvae" eval "$dir" --iw "$iw" --count "$count")
    elbo=$(sed -nE 's/^-ELBO +([0-9.]+).*/\1/p' <<<"$eval_out")
    bound=$(sed -nE 's/^-log p\(x\) <= +([0-9.]+).*/\1/p' <<<"$eval_out")
    runs+="- $estimator, seed $seed: train -ELBO $train, test -ELBO $elbo, bound $bound, $seconds s"$'\n'
    echo "$estimator seed $seed: train -ELBO $train, test -ELBO $elbo, IW bound $bound, $seconds s" >&2
    values+="$train $elbo $bound $seconds"$'\n'
    tsv+="$estimator	$seed	$train	$elbo	$bound	$seconds"$'\n'
  done
  rows+="$(awk -v name="$estimator" '
    NF == 4 { for (c = 1; c <= 4; c++) { sum[c] += $c; sq[c] += $c * $c } n++ }
    END {
      printf "| `%s` |", name
      for (c = 1; c <= 3; c++) { m = sum[c] / n; sd = n > 1 ? sqrt((sq[c] - n * m * m) / (n - 1)) : 0
        printf " %.2f ± %.2f |", m, sd }
      printf " %.0f |\n", sum[4] / n
    }' <<<"$values")"$'\n'
done
threads=${OMP_NUM_THREADS:+, OMP_NUM_THREADS=$OMP_NUM_THREADS}${OPENBLAS_NUM_THREADS:+, OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS}
printf '%s' "$tsv" >"${out%.md}.tsv"
{
  echo "# Estimators on the MNIST-VAE, ${categories}×${latents} ($latents variables of $categories classes), $images Fashion-MNIST"
  echo
  echo "\`bench/estimators/compare_estimators.sh $out $epochs $seeds $*\` on $(date -u +%Y-%m-%d), $(getconf _NPROCESSORS_ONLN) cores, $("$gsvae" info | sed -nE 's/^ *BLAS +//p')$threads: configs/mnist_vae.yaml"
  echo "($("$gsvae" config configs/mnist_vae.yaml "$@" | grep -E '^  (latents|categories|estimator_samples|sf_baseline|init):' | tr -s ' ' | tr '\n' ' '))"
  echo "for $epochs epochs, seeds 1..$seeds; train -ELBO = the last epoch's mean unrelaxed objective; test -ELBO and"
  echo "the importance-weighted bound on -log p(x) ($iw samples) over the first $count test images (\`gsvae eval --iw\`)."
  echo "Mean ± sd over seeds; lower is better."
  echo
  echo "| estimator | train -ELBO | test -ELBO | test -log p(x) bound | seconds per run |"
  echo "|---|---:|---:|---:|---:|"
  printf '%s' "$rows"
  echo
  echo "Per run:"
  echo
  printf '%s' "$runs"
} >"$out"
cat "$out"
