#!/usr/bin/env bash
# Every estimator's gradient against the unrelaxed -ELBO's at a trained checkpoint of the papers'
# MNIST-VAE (configs/mnist_vae.yaml): trains it for EPOCHS with train.estimator=st, then runs
# `gsvae estimators` over a tau grid, into OUT.md (the command, the CPU and the table) and OUT.png.
#
#   bench/estimators/estimator_gradients.sh OUT.md [EPOCHS [key=value ...]]      (1 epoch)
#
# e.g. bench/estimators/estimator_gradients.sh bench/estimators/results/estimator_gradients_8x4.md 1   (C x L = 8x4:
# model.categories=8 model.latents=4, configs/mnist_vae.yaml's)
# GSVAE_ESTIMATORS_ARGS adds arguments to `gsvae estimators` (default: --tau 0.25,0.5,1,2 --samples 100).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$1 epochs=${2:-1}
shift $(( $# < 2 ? $# : 2 ))
args=${GSVAE_ESTIMATORS_ARGS:---tau 0.25,0.5,1,2 --samples 100}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$PWD
build/gsvae train configs/mnist_vae.yaml train.estimator=st "train.epochs=$epochs" run.log_every=600 \
  run.resume=never "run.dir=$work/RUN" "$@" >"$work/train.log"
command="gsvae estimators RUN $args -o ${out%.md}.png"
start=$SECONDS
# from inside the work directory, so that the table and the plot name the run RUN
# shellcheck disable=SC2086
table=$(cd "$work" && "$root/build/gsvae" estimators RUN $args -o "$root/${out%.md}.png")
{
  echo "# Estimators' gradients at a checkpoint"
  echo
  echo "\`bench/estimators/estimator_gradients.sh $out $epochs $*\` ($(date +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, $((SECONDS - start)) s):"
  echo "configs/mnist_vae.yaml $* trained $epochs epoch(s) with st at tau 1 (RUN), then \`$command\`."
  echo
  echo '```'
  echo "$table"
  echo '```'
  echo
  echo "![bias, sd and cosine over tau]($(basename "${out%.md}.png"))"
} >"$out"
cat "$out"
