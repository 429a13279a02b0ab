#!/bin/sh
# Bad input to the analysis commands: a clear message naming the path or option and exit code 2,
# never a crash. Usage: analysis_bad_input.sh GSVAE WORKDIR
gsvae=$1 work=$2
mkdir -p "$work" && cd "$work" || exit 1
printf 'not hdf5' > junk.h5
printf 'grid: [1, 2]\n' > bad_sweep.yaml
printf 'base: {train.batch: 10}\ngrid: {tau.rate: [0.1]}\nfrobnicate: 1\n' > unknown_key.yaml
printf 'base: {train.batch: 10}\ngrid: {tau.rate: [0.1]}\nhandout: greedy\n' > bad_handout.yaml
status=0
expect() { # expect CODE PATTERN COMMAND...
  code=$1 pattern=$2; shift 2
  out=$("$@" 2>&1); got=$?
  if [ "$got" -ne "$code" ] || ! printf '%s' "$out" | grep -q -- "$pattern"; then
    echo "FAIL: $* -> exit $got (expected $code), output: $out"; status=1
  fi
}
expect 2 "no such file" "$gsvae" inspect missing_dir
expect 2 "junk.h5: cannot open as an HDF5 file" "$gsvae" inspect junk.h5
expect 2 "not a run directory" "$gsvae" eval .
expect 2 "expected ROWSxCOLS" "$gsvae" sample junk.h5 -o x.png --grid 8by8
expect 2 "usage: gsvae plot" "$gsvae" plot
expect 2 "'grid' must be a mapping" "$gsvae" sweep bad_sweep.yaml --list
expect 2 "unknown key 'frobnicate'" "$gsvae" sweep unknown_key.yaml --list
expect 2 "cannot read sweep file" "$gsvae" sweep nothing.yaml --list
expect 2 "'handout: greedy': expected dynamic (the default) or static" "$gsvae" sweep bad_handout.yaml --list
expect 2 "no run directories" "$gsvae" compare .
expect 2 "--sort 'bogus': expected test, best, relaxed, unrelaxed or iw" "$gsvae" compare . --sort bogus
expect 2 "--sort iw needs --iw K" "$gsvae" compare . --sort iw
expect 2 "--best '0': expected a positive integer" "$gsvae" compare . --best 0
exit $status
