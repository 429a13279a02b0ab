#!/usr/bin/env bash
# `gsvae config` on the command line: bad keys, values, YAML and files end with exit 2 and a
# message naming them; the resolved YAML loads back to itself; the shipped configs resolve.
set -u
gsvae=$1 source_dir=$2 work=$3
rm -rf "$work"; mkdir -p "$work"
cd "$source_dir"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect() { # expect CODE WORD... -- COMMAND...: exit CODE and every WORD on stderr
  local code=$1; shift; local words=()
  while [ "$1" != "--" ]; do words+=("$1"); shift; done; shift
  "$@" >"$work/out" 2>"$work/err"; local got=$?
  local ok=1; [ "$got" -eq "$code" ] || ok=0
  for word in "${words[@]}"; do grep -qF -- "$word" "$work/err" || ok=0; done
  grep -q "^gsvae: error: " "$work/err" || ok=0
  if [ "$ok" -eq 1 ]; then echo "ok: exit $got: $(head -c 200 "$work/err")"
  else fail "$* -> exit $got (want $code, words: ${words[*]}), stderr: $(cat "$work/err")"; fi
}
expect 2 "train.learning_rate" "did you mean 'train.lr'" -- "$gsvae" config train.learning_rate=0.1
expect 2 "train.batch" "'0'" "[1, 1048576]" -- "$gsvae" config train.batch=0
expect 2 "tau.schedule" "constant|exp|linear|cosine" -- "$gsvae" config tau.schedule=fast
expect 2 "train.lr" "'fast'" "number" -- "$gsvae" config train.lr=fast
expect 2 "train.epochs" "'ten'" "integer" -- "$gsvae" config train.epochs=ten
expect 2 "train.lr" "key=value" -- "$gsvae" config configs/seed.yaml train.lr
expect 2 "train.estimator" "st_softmax" "reinmax" -- "$gsvae" config train.estimator=rebar
expect 2 "train.estimator_samples=1" "loo" "at least 2" -- "$gsvae" config train.estimator=sf train.sf_baseline=loo
expect 2 "tau.learn=true" "tau.schedule=exp" "constant" -- "$gsvae" config tau.learn=true tau.schedule=exp
expect 2 "tau.learn=true" "train.estimator=sf" "no gradient" -- "$gsvae" config tau.learn=true train.estimator=sf
expect 2 "train.estimator_samples" "'0'" "[1, 1000]" -- "$gsvae" config train.estimator_samples=0
expect 2 "train.optimizer" "'sgd'" "adam|radam" -- "$gsvae" config train.optimizer=sgd
printf 'model:\n  latents: 3\n  hidden: [100\n' >"$work/malformed.yaml"
expect 2 "$work/malformed.yaml:4:1" "malformed YAML" -- "$gsvae" config "$work/malformed.yaml"
printf 'train:\n  lr: 0.1\n  lr: 0.2\n' >"$work/duplicate.yaml"
expect 2 "$work/duplicate.yaml:3:3" "duplicate key 'train.lr'" -- "$gsvae" config "$work/duplicate.yaml"
printf 'model:\n  hidden: 512\n  latens: 3\n' >"$work/unknown.yaml"
expect 2 "$work/unknown.yaml:3:3" "model.latens" "did you mean 'model.latents'" -- "$gsvae" config "$work/unknown.yaml"
expect 2 "$work/missing.yaml" "cannot read" -- "$gsvae" config "$work/missing.yaml"
expect 2 "nonsense" "key=value" -- "$gsvae" config nonsense

# --help lists every key with its default and range
"$gsvae" config --help >"$work/help" 2>&1 || fail "config --help exited $?"
for key in data.dir model.hidden train.optimizer train.lr train.seed tau.schedule run.log_every run.resume device.graphs; do
  grep -q "$key" "$work/help" || fail "--help lacks $key"
done

# a retired key (device.overlap) still loads from a file and an override, noted once, and is not
# written back
printf 'device:\n  overlap: true\n' >"$work/retired.yaml"
"$gsvae" config "$work/retired.yaml" device.overlap=false >"$work/retired.out" 2>"$work/retired.err" ||
  fail "a config with device.overlap exited $?"
[ "$(grep -c 'device.overlap is ignored' "$work/retired.err")" = 1 ] || fail "device.overlap not noted once: $(cat "$work/retired.err")"
grep -q overlap "$work/retired.out" && fail "device.overlap written back"

# configs/seed.yaml writes out every key the table has (under its section)
for key in $(awk '/^  [a-z_]+\.[a-z_]+ /{print $1}' "$work/help"); do
  grep -q "^  ${key#*.}:" configs/seed.yaml || fail "configs/seed.yaml lacks $key"
done

# the seed's config resolves to the defaults, and the resolved YAML loads back to itself
"$gsvae" config configs/seed.yaml >"$work/seed.yaml" || fail "config configs/seed.yaml exited $?"
"$gsvae" config >"$work/defaults.yaml" || fail "config exited $?"
cmp -s "$work/seed.yaml" "$work/defaults.yaml" || fail "configs/seed.yaml differs from the defaults"
"$gsvae" config "$work/seed.yaml" >"$work/again.yaml" || fail "config on its own output exited $?"
cmp -s "$work/seed.yaml" "$work/again.yaml" || fail "the resolved YAML does not load back to itself"
# overrides after the file win; the result round-trips too
"$gsvae" config configs/seed.yaml train.lr=3e-4 model.hidden=[64,32] run.dir="a \"b\"" >"$work/over.yaml" \
  || fail "config with overrides exited $?"
grep -q "lr: 0.0003$" "$work/over.yaml" && grep -q "hidden: \[64, 32\]" "$work/over.yaml" \
  || fail "overrides not applied: $(cat "$work/over.yaml")"
"$gsvae" config "$work/over.yaml" | cmp -s - "$work/over.yaml" || fail "overridden YAML does not round-trip"
# Jang et al.'s annealing is the seed with the tau keys (and its own run.dir) changed
"$gsvae" config configs/jang_anneal.yaml >"$work/jang.yaml" || fail "config configs/jang_anneal.yaml exited $?"
"$gsvae" config tau.schedule=exp tau.init=1 tau.min=0.5 tau.rate=1e-4 tau.every=1000 run.dir=results/jang_anneal \
  | cmp -s - "$work/jang.yaml" || fail "configs/jang_anneal.yaml is not the seed with Jang's tau keys"

# ReinMax's reproduction configs are named C x L as the authors write them (--categorical-dim C
# --latent-dim L): L variables (model.latents) of C classes (model.categories). Their 8x4 is 4
# variables of 8 classes, trained as reinmax_8_4.sh does: grey levels, batch 100, 160 epochs, Adam
# at lr 5e-4, tau 1.3.
for file in configs/reinmax/*x*.yaml; do
  shape=$(basename "$file" .yaml) && classes=${shape%x*} && variables=${shape#*x}
  "$gsvae" config "$file" >"$work/reinmax.yaml" || fail "config $file exited $?"
  grep -q "^  latents: $variables$" "$work/reinmax.yaml" && grep -q "^  categories: $classes$" "$work/reinmax.yaml" \
    || fail "$file is not $variables variables of $classes classes: $(grep -E 'latents|categories' "$work/reinmax.yaml")"
done
"$gsvae" config configs/reinmax/8x4.yaml >"$work/8x4.yaml" || fail "config configs/reinmax/8x4.yaml exited $?"
for line in "  latents: 4" "  categories: 8" "  binarize: none" "  batch: 100" "  epochs: 160" "  optimizer: adam" \
  "  lr: 0.0005" "  init: 1.3" "  estimator: reinmax" "  logits_relu: false"; do
  grep -qx "$line" "$work/8x4.yaml" || fail "configs/reinmax/8x4.yaml lacks '$line'"
done

# the command line itself: no command is a usage error; --version and every command's --help answer
"$gsvae" >/dev/null 2>"$work/err"; code=$?
[ "$code" -eq 2 ] && grep -q "usage: gsvae COMMAND" "$work/err" || fail "gsvae without a command exited $code"
"$gsvae" --version | grep -qE "^gsvae [0-9]+\.[0-9]+\.[0-9]+$" || fail "gsvae --version: $("$gsvae" --version 2>&1)"
for command in train config inspect export sample recon eval plot sweep compare info; do
  "$gsvae" "$command" --help >"$work/out" 2>&1 || fail "gsvae $command --help exited $?"
  grep -q "usage: gsvae $command\|train\.lr" "$work/out" || fail "gsvae $command --help: $(head -3 "$work/out")"
done
[ "$failures" -eq 0 ] && echo "config CLI tests passed"
exit $((failures > 0))
