#!/usr/bin/env bash
# The launch scripts, on a machine without Slurm or GPUs: stand-in mpirun and scontrol programs
# on PATH, GPUs and cores stated through GSVAE_GPUS / GSVAE_CORES.
#   1. dry runs of the GPU and CPU sbatch scripts and of mpirun_bind.sh: the mpirun line and the
#      device each rank takes, by `gsvae placement` (training's own rules), and the refusal of
#      more ranks than GPUs under NCCL;
#   2. the signal and requeue logic: SIGUSR1 to the batch shell reaches gsvae, which checkpoints and
#      exits 75, and the script calls `scontrol requeue`; the requeued job resumes from that very
#      checkpoint and ends 0 with no second requeue, and run.h5's step rows go on without a
#      duplicate; a usage error (exit 2) is the job's result, not requeued.
# usage: launch_scripts.sh GSVAE_BINARY SOURCE_DIR SMALL_DATA_DIR WORK_DIR
set -euo pipefail
gsvae=$(realpath "$1"); source_dir=$2; data=$3; work=$4
rm -rf "$work"; mkdir -p "$work/bin"
log=$work/calls.log
fail() { echo "FAILED: $*" >&2; exit 1; }

# Stand-ins: mpirun starts the gsvae command line it was given as one process (no MPI launch);
# scontrol records what it was asked.
cat > "$work/bin/mpirun" <<STANDIN
#!/usr/bin/env bash
echo "mpirun \$*" >> "$log"
while [ \$# -gt 0 ] && [ "\$1" != "$gsvae" ]; do shift; done
[ \$# -gt 0 ] || { echo "stand-in mpirun: no gsvae in the line" >&2; exit 97; }
exec "\$@"
STANDIN
cat > "$work/bin/scontrol" <<STANDIN
#!/usr/bin/env bash
echo "scontrol \$*" >> "$log"
STANDIN
chmod +x "$work/bin/mpirun" "$work/bin/scontrol"
export PATH="$work/bin:$PATH" GSVAE="$gsvae"
cd "$source_dir"
cuda_built=1
"$gsvae" info | grep -q "CUDA *not built in" && cuda_built=0

expect_in() { grep -qF -- "$2" <<<"$1" || fail "$3: expected '$2' in:"$'\n'"$1"; }

# 1. dry runs
out=$(GSVAE_DRY_RUN=1 SLURM_JOB_NUM_NODES=2 SLURM_NTASKS_PER_NODE=4 GSVAE_GPUS=4 GSVAE_CORES=32 \
      bash launch/slurm_train.sbatch configs/seed.yaml run.dir="$work/dry" 2>&1) && status=0 || status=$?
expect_in "$out" "mpirun -np 8 --bind-to core --map-by ppr:4:node:PE=8" "GPU sbatch dry run"
expect_in "$out" "device.backend=cuda" "GPU sbatch dry run"
expect_in "$out" "local rank 3: cores 24-31" "GPU sbatch dry run"
if [ $cuda_built = 1 ]; then
  [ $status = 0 ] || fail "GPU sbatch dry run exited $status"
  expect_in "$out" "local rank 3: GPU 3" "GPU sbatch dry run"
else
  [ $status = 2 ] || fail "GPU sbatch dry run on a build without CUDA exited $status, not 2"
  expect_in "$out" "built without CUDA" "GPU sbatch dry run on a build without CUDA"
fi
out=$(GSVAE_DRY_RUN=1 SLURM_NTASKS_PER_NODE=3 GSVAE_CORES=3 bash launch/slurm_train_cpu.sbatch configs/seed.yaml 2>&1)
expect_in "$out" "mpirun -np 3 --bind-to core --map-by core -x OPENBLAS_NUM_THREADS=1" "CPU sbatch dry run"
expect_in "$out" "device.backend=cpu" "CPU sbatch dry run"
expect_in "$out" "local rank 2: CPU" "CPU sbatch dry run"
out=$(GSVAE_DRY_RUN=1 GSVAE_RANKS=3 GSVAE_GPUS=2 launch/mpirun_bind.sh "$gsvae" train configs/seed.yaml 2>&1) \
  && status=0 || status=$?
[ $status = 2 ] || fail "3 ranks on 2 GPUs under NCCL: dry run exited $status, not 2"
[ $cuda_built = 1 ] && expect_in "$out" "would share GPU 0" "3 ranks on 2 GPUs under NCCL"
if [ $cuda_built = 1 ]; then
  out=$(GSVAE_DRY_RUN=1 GSVAE_RANKS=3 GSVAE_GPUS=2 launch/mpirun_bind.sh "$gsvae" train configs/seed.yaml \
        device.comm=mpi 2>&1)
  expect_in "$out" "local rank 2: GPU 0" "3 ranks on 2 GPUs with device.comm=mpi"
fi
[ ! -e "$log" ] || fail "a dry run started something: $(cat "$log")"
echo "dry runs: ok"

# 2. signal and requeue, with a real (single-process) gsvae behind the stand-in mpirun
run=$work/run
args=(configs/seed.yaml data.dir="$data" run.dir="$run" train.epochs=60 train.batch=50 run.log_every=1
      model.hidden=32 run.ckpt_every=0)
SLURM_JOB_ID=4242 SLURM_NTASKS_PER_NODE=1 bash launch/slurm_train_cpu.sbatch "${args[@]}" > "$work/job1.out" 2>&1 &
job=$!
for _ in $(seq 1 600); do [ -e "$run/run.h5" ] && break; sleep 0.1; done
[ -e "$run/run.h5" ] || fail "the job never started training: $(cat "$work/job1.out")"
sleep 0.5
kill -USR1 $job
status=0; wait $job || status=$?
[ $status = 75 ] || fail "after SIGUSR1 the job exited $status, not 75: $(cat "$work/job1.out")"
grep -q "scontrol requeue 4242" "$log" || fail "no requeue after exit 75: $(cat "$log")"
stopped=$(sed -n 's/.*stopped by signal [0-9]* after step \([0-9]*\).*/\1/p' "$work/job1.out")
[ -n "$stopped" ] || fail "gsvae did not report the signal: $(tail -5 "$work/job1.out")"
[ -f "$run/ckpt/step_$(printf %08d "$stopped").h5" ] || fail "no checkpoint of step $stopped"
grep -q "device.backend=cpu" "$log" || fail "the CPU script did not pass device.backend=cpu: $(cat "$log")"
: > "$log"
# the requeued job: the same script and arguments
SLURM_JOB_ID=4242 SLURM_NTASKS_PER_NODE=1 bash launch/slurm_train_cpu.sbatch "${args[@]}" \
  > "$work/job2.out" 2>&1 || fail "the requeued job failed: $(cat "$work/job2.out")"
grep -q "resuming from $run/ckpt/step_$(printf %08d "$stopped").h5" "$work/job2.out" ||
  fail "the requeued job did not resume from step $stopped: $(head -5 "$work/job2.out")"
grep -q "scontrol" "$log" && fail "a finished job requeued itself"
/usr/bin/python3 - "$run/run.h5" <<'PY' || fail "run.h5's step rows after the requeue"
import sys, h5py, numpy as np
steps = h5py.File(sys.argv[1], "r")["curves/steps/step"][:]
sys.exit(0 if len(steps) and np.array_equal(steps, np.arange(1, len(steps) + 1)) else f"step rows {steps}")
PY
status=0
SLURM_JOB_ID=4243 bash launch/slurm_train_cpu.sbatch configs/seed.yaml train.no_such_key=1 > "$work/job3.out" 2>&1 \
  || status=$?
[ $status = 2 ] || fail "a bad key: job exited $status, not 2"
grep -q "scontrol" "$log" && fail "a usage error requeued the job"
echo "signal and requeue: ok"
