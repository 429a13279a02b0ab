#!/usr/bin/env bash
# Bad data given to `gsvae train` ends with a message naming the file and exit 3, a bad setting with
# one naming the key and exit 2; never a signal.
set -u
gsvae=$1 data_dir=$2 work=$3
rm -rf "$work"; mkdir -p "$work"
failures=0
expect() { # expect CODE WORDS -- COMMAND...
  local code=$1 words=$2; shift 3
  "$@" >"$work/out" 2>"$work/err"; local got=$?
  if [ "$got" -ne "$code" ] || ! grep -qi -- "$words" "$work/err"; then
    echo "FAIL: $* -> exit $got (want $code), stderr:"; cat "$work/err"; failures=$((failures + 1))
  else echo "ok: exit $got: $(head -c 200 "$work/err")"; fi
}
base=(train.max_steps=1 run.dir="$work/run" run.resume=never)
expect 3 "does not exist" -- "$gsvae" train data.dir="$work/nope" "${base[@]}"
mkdir -p "$work/empty"
expect 3 "train-images-idx3-ubyte" -- "$gsvae" train data.dir="$work/empty" "${base[@]}"
cp -r "$data_dir" "$work/truncated"
gzip -dc "$data_dir/train-images-idx3-ubyte.gz" | head -c 5000 | gzip > "$work/truncated/train-images-idx3-ubyte.gz"
expect 3 "truncated" -- "$gsvae" train data.dir="$work/truncated" "${base[@]}"
cp -r "$data_dir" "$work/magic"
cp "$data_dir/train-labels-idx1-ubyte.gz" "$work/magic/train-images-idx3-ubyte.gz"
expect 3 "magic" -- "$gsvae" train data.dir="$work/magic" "${base[@]}"
cp -r "$data_dir" "$work/counts"
cp "$data_dir/t10k-labels-idx1-ubyte.gz" "$work/counts/train-labels-idx1-ubyte.gz"
expect 3 "train-labels-idx1-ubyte" -- "$gsvae" train data.dir="$work/counts" "${base[@]}"
expect 2 "train.batch" -- "$gsvae" train data.dir="$data_dir" train.batch=0 "${base[@]}"
expect 2 "train.reduce_chunks=8 exceeds train.batch=5" -- "$gsvae" train data.dir="$data_dir" train.batch=5 train.deterministic=true "${base[@]}"
expect 2 "chunks of 500 rows, more than the" -- "$gsvae" train data.dir="$data_dir" train.batch=1000 train.reduce_chunks=2 train.deterministic=true "${base[@]}"
expect 2 "did you mean" -- "$gsvae" train data.dir="$data_dir" train.bach=10 "${base[@]}"
# bf16 where the CPU (capped to AVX2 for oneDNN: every CPU then lacks bf16) or the build has none:
# refused before anything is written
expect 2 "device.precision=bf16 on the CPU: .*use device.precision=fp32" -- env ONEDNN_MAX_CPU_ISA=AVX2 "$gsvae" train \
  data.dir="$data_dir" device.backend=cpu device.precision=bf16 train.max_steps=1 run.dir="$work/bf16" run.resume=never
[ -e "$work/bf16/run.h5" ] && { echo "FAIL: the refused bf16 run wrote $work/bf16/run.h5"; failures=$((failures + 1)); }
exit $((failures > 0))
