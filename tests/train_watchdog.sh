#!/usr/bin/env bash
# A hung rank ends the job: two ranks train, one is stopped (SIGSTOP) mid-run, and the other's
# watchdog (run.watchdog=3) must end the job with a message naming it within a minute.
set -u
gsvae=$1 mpiexec=$2 data_dir=$3 work=$4
rm -rf "$work"; mkdir -p "$work"
"$mpiexec" --allow-run-as-root --oversubscribe -np 2 "$gsvae" train device.backend=cpu data.dir="$data_dir" train.epochs=1000 \
  model.hidden=64 run.log_every=1 run.watchdog=3 run.dir="$work/run" run.resume=never >"$work/out" 2>"$work/err" &
launcher=$!
for _ in $(seq 100); do [ -s "$work/out" ] && grep -q "^step" "$work/out" && break; sleep 0.1; done
victim=$(pgrep -f "^$gsvae train .*run.dir=$work/run" | tail -1)  # a rank, not mpiexec
[ -n "$victim" ] || { echo "FAIL: no training process found"; kill $launcher; exit 1; }
kill -STOP "$victim"
for _ in $(seq 600); do kill -0 $launcher 2>/dev/null || break; sleep 0.1; done
if kill -0 $launcher 2>/dev/null; then
  echo "FAIL: the job still runs 60 s after a rank was stopped"; kill -CONT "$victim"; kill -9 $launcher; exit 1
fi
wait $launcher; code=$?
kill -CONT "$victim" 2>/dev/null
if [ "$code" -eq 0 ] || ! grep -q "no progress for" "$work/err"; then
  echo "FAIL: exit $code, stderr:"; cat "$work/err"; exit 1
fi
echo "ok: exit $code: $(grep 'no progress' "$work/err")"
