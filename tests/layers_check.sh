#!/usr/bin/env bash
# The layer order of src/ as the build enforces it (CMakeLists.txt, gsvae_layer): through the
# include root CMake made for each layer, a header of the layer itself and of each layer it sits
# on is found, and a header of any other folder of src/ (a layer above, or a sibling: cpu and
# cuda do not see each other) is not. Usage: layers_check.sh CC INCLUDE_ROOT SRC_DIR
# LAYER=BELOW,BELOW... (one per layer built). Upward calls are caught at build time instead: the
# gsvae_layer_<name>_links programs link each layer's whole archive against the layers below.
set -euo pipefail
cc=$1 root=$2 src=$3
shift 3
folders=$(cd "$src" && ls -d */ | tr -d /)
failures=0 checks=0
for spec in "$@"; do
  layer=${spec%%=*}
  below=",${spec#*=},"
  for other in $folders; do
    header=$(cd "$src" && ls "$other"/*.h | head -n1)
    # Only whether $header itself is found matters; what it includes in turn (mpi.h, hdf5.h...)
    # may be missing here. -M -MG lists a header it found by its path, one it did not as written
    # (GCC and Clang alike, whatever their error messages).
    depends=$(printf '#include "%s"\n' "$header" | "$cc" -M -MG -I "$root/$layer" -x c - 2>/dev/null || true)
    found=no
    grep -qF "$root/$layer/$header" <<<"$depends" && found=yes
    want=no
    [[ "$other" == "$layer" || "$below" == *",$other,"* ]] && want=yes
    checks=$((checks + 1))
    if [ "$found" != "$want" ]; then
      echo "FAIL: $layer including $header: found=$found, expected $want"
      failures=$((failures + 1))
    fi
  done
done
[ "$checks" -gt 0 ] || { echo "FAIL: no layers given"; exit 1; }
echo "$checks includes checked across $# layers, $failures wrong"
[ "$failures" -eq 0 ]
