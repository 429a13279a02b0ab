#!/usr/bin/env bash
# The layer order of src/ as the build enforces it (CMakeLists.txt, gsvae_layer): through the
# include root CMake made for each layer, a header of every layer above it is not found, and a
# header of the layer itself and of every layer below is. Usage: layers_check.sh CC INCLUDE_ROOT
# SRC_DIR LAYER... (lowest first). Upward calls are caught at build time instead: the
# gsvae_layer_<name>_links programs link each layer's whole archive against the layers below.
set -euo pipefail
cc=$1 root=$2 src=$3
shift 3
layers=("$@")
failures=0 checks=0
for ((i = 0; i < ${#layers[@]}; i++)); do
  layer=${layers[i]}
  [ -d "$root/$layer" ] || continue # a layer not built (cuda without the toolkit)
  for ((j = 0; j < ${#layers[@]}; j++)); do
    other=${layers[j]}
    header=$(cd "$src" && ls "$other"/*.h | head -n1)
    # Only whether $header itself is found matters; what it includes in turn (mpi.h, hdf5.h...)
    # may be missing here, so the preprocessor's verdict on the file is read from its message.
    message=$(printf '#include "%s"\n' "$header" | "$cc" -E -I "$root/$layer" -x c - -o /dev/null 2>&1 || true)
    missing=no
    grep -q "$header: No such file" <<<"$message" && missing=yes
    want=no
    [ "$j" -gt "$i" ] && want=yes
    checks=$((checks + 1))
    if [ "$missing" != "$want" ]; then
      echo "FAIL: $layer including $header: not found=$missing, expected $want"
      failures=$((failures + 1))
    fi
  done
done
[ "$checks" -gt 0 ] || { echo "FAIL: no layer include root under $root"; exit 1; }
echo "$checks includes checked across ${#layers[@]} layers, $failures wrong"
[ "$failures" -eq 0 ]
