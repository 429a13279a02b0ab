#!/usr/bin/env bash
# What every gsvae Slurm script shares: runs the launch line in the background, forwards SIGUSR1
# (Slurm's --signal=B:USR1@T, sent to the batch shell before the time limit or a preemption) to
# it, waits for its real exit, and requeues the job when gsvae checkpointed and exited 75
# (GSVAE_EXIT_INTERRUPTED); the requeued job runs the same script, and run.resume=auto continues
# from the newest valid checkpoint. Other exits are the job's result (0 done, 2 usage, 4 no valid
# checkpoint, 5 diverged, ...).
#   exec launch/slurm_job.sh LAUNCH_COMMAND [ARGS...]   (exec: the batch shell's PID receives the signal)
set -uo pipefail
"$@" &
child=$!
trap 'kill -USR1 "$child" 2>/dev/null' USR1
status=0
wait "$child" || status=$?
# A trapped signal interrupts wait (status > 128) while the launch still runs: wait for its real exit.
while [ "$status" -gt 128 ] && kill -0 "$child" 2>/dev/null; do status=0; wait "$child" || status=$?; done
if [ "$status" -eq 75 ]; then
  echo "gsvae: checkpointed before the time limit; requeueing job ${SLURM_JOB_ID:-?}"
  scontrol requeue "${SLURM_JOB_ID:?slurm_job.sh: SLURM_JOB_ID unset: not inside a Slurm job}"
fi
exit "$status"
