# Sourced by the benchmark scripts: cpu_name prints this CPU as results files name it, from
# /proc/cpuinfo's model name, family and model (e.g. amd_epyc_25_1).
cpu_field() { grep -m1 "^$1[[:space:]]*:" /proc/cpuinfo | cut -d: -f2 | sed -E 's/^ +//'; }
cpu_name() {
  local name
  name=$(cpu_field 'model name' | sed -E 's/\(R\)|\(TM\)|Processor|CPU|@.*//g; s/ +/_/g; s/_+$//' | tr -cd 'A-Za-z0-9_' | tr 'A-Z' 'a-z')
  echo "${name}_$(cpu_field 'cpu family')_$(cpu_field model)"
}
