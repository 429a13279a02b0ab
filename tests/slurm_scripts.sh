#!/usr/bin/env bash
# launch/slurm_train.sbatch's signal and requeue logic, with stand-in srun and scontrol programs:
# SIGUSR1 to the batch shell (Slurm's --signal=B:USR1) reaches gsvae through srun, rank 0
# checkpoints, gsvae exits 75, the script requeues the job (scontrol requeue JOBID) and exits 75;
# the requeued job (the script again) resumes from that checkpoint, finishes with exit 0 and
# requeues nothing, and run.h5's step rows go on without a duplicate.
#   tests/slurm_scripts.sh GSVAE DATA_DIR WORK
set -euo pipefail
gsvae=$1 data=$2 work=$3
script=$(cd "$(dirname "$0")/.." && pwd)/launch/slurm_train.sbatch
rm -rf "$work" && mkdir -p "$work/bin"
# srun: its options dropped, the task run in its place (exec: a signal to srun reaches the task)
cat >"$work/bin/srun" <<'STANDIN'
#!/usr/bin/env bash
while [[ "${1:-}" == --* ]]; do shift; done
exec "$@"
STANDIN
# scontrol: records its arguments
cat >"$work/bin/scontrol" <<STANDIN
#!/usr/bin/env bash
echo "\$*" >>"$work/scontrol.log"
STANDIN
chmod +x "$work/bin/srun" "$work/bin/scontrol"
export PATH="$work/bin:$PATH" GSVAE="$gsvae" SLURM_JOB_ID=4242
run_dir=$work/run
args=(data.dir="$data" run.dir="$run_dir" model.hidden=64,32 train.epochs=40 run.log_every=1 run.ckpt_every=0)
fail() { echo "FAIL: $*" >&2; exit 1; }

bash "$script" "${args[@]}" >"$work/first.out" 2>&1 &
job=$!
for _ in $(seq 1 2000); do # until the run is stepping (its first epoch's checkpoint written)
  ls "$run_dir"/ckpt/step_*.h5 >/dev/null 2>&1 && break
  kill -0 "$job" 2>/dev/null || break
  sleep 0.05
done
kill -0 "$job" 2>/dev/null || fail "the job ended before the signal: $(tail -5 "$work/first.out")"
kill -USR1 "$job"
code=0; wait "$job" || code=$?
[ "$code" -eq 75 ] || fail "after SIGUSR1 the script exited $code, want 75: $(tail -5 "$work/first.out")"
grep -q "stopped by signal" "$work/first.out" || fail "gsvae did not report the signal: $(tail -5 "$work/first.out")"
[ "$(cat "$work/scontrol.log")" = "requeue 4242" ] || fail "scontrol got '$(cat "$work/scontrol.log" 2>/dev/null)', want 'requeue 4242'"
stopped=$(sed -n 's/.*stopped by signal [0-9]* after step \([0-9]*\).*/\1/p' "$work/first.out")
[ -f "$run_dir/ckpt/step_$(printf %08d "$stopped").h5" ] || fail "no checkpoint of step $stopped"
echo "SIGUSR1: checkpoint at step $stopped, exit 75, scontrol requeue 4242"

code=0; bash "$script" "${args[@]}" >"$work/second.out" 2>&1 || code=$?
[ "$code" -eq 0 ] || fail "the requeued job exited $code: $(tail -5 "$work/second.out")"
grep -q "resuming from $run_dir/ckpt/step_$(printf %08d "$stopped").h5" "$work/second.out" ||
  fail "the requeued job did not resume from step $stopped: $(head -5 "$work/second.out")"
[ "$(wc -l <"$work/scontrol.log")" -eq 1 ] || fail "the finished job requeued again: $(cat "$work/scontrol.log")"
/usr/bin/python3 - "$run_dir/run.h5" <<'PY' || fail "run.h5's step rows after the requeue"
import sys, h5py, numpy as np
steps = h5py.File(sys.argv[1], "r")["curves/steps/step"][:]
sys.exit(0 if len(steps) and np.array_equal(steps, np.arange(1, len(steps) + 1)) else f"step rows {steps}")
PY
echo "requeued job: resumed from step $stopped, finished with exit 0, step rows 1..N without a duplicate"
