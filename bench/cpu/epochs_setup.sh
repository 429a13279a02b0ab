# Sourced by the whole-epoch benchmarks (bench_bf16.sh, bench_exchange.sh) from the repository
# root, with their arguments: installs and builds gsvae, lets mpirun run as root (these machines'
# only user), and sets `epochs` (their --epochs, 3 by default) and `cpu`, this CPU as results files
# name it: /proc/cpuinfo's model name, family and model (e.g. amd_epyc_25_1).
launch/install.sh --test
launch/build.sh >/dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
epochs=3
for ((i = 1; i <= $#; i++)); do [ "${!i}" = --epochs ] && { next=$((i + 1)); epochs=${!next}; }; done
cpu_field() { grep -m1 "^$1[[:space:]]*:" /proc/cpuinfo | cut -d: -f2 | sed -E 's/^ +//'; }
cpu=$(cpu_field 'model name' | sed -E 's/\(R\)|\(TM\)|Processor|CPU|@.*//g; s/ +/_/g; s/_+$//' | tr -cd 'A-Za-z0-9_' | tr 'A-Z' 'a-z')
cpu=${cpu}_$(cpu_field 'cpu family')_$(cpu_field model)
