#!/usr/bin/env bash
# Installs the Debian packages gsvae builds and runs with (and, with --test, those its tests
# and the results' scripts use, and the `reinmax` package from PyPI for the ReinMax parity test). Skips
# apt entirely when everything is already installed.
set -euo pipefail
# libdnnl-dev: oneDNN, the default BLAS; libsleef-dev: SLEEF, the CPU's vector exp and log; libopenblas-dev: OpenBLAS, for -DGSVAE_BLAS=openblas (launch/test.sh
# builds and tests it too), and the tests' double-precision model in every build.
packages="build-essential cmake pkg-config libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools libopenblas-dev libdnnl-dev libsleef-dev
librandom123-dev libyaml-dev zlib1g-dev libpng-dev libplplot-dev plplot-driver-cairo dataset-fashion-mnist"
if [ "${1:-}" = "--test" ]; then
  packages="$packages python3 python3-torch python3-h5py python3-numpy python3-yaml python3-pip clang libclang-rt-14-dev
python3-plplot"
fi
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# Liu et al.'s own ReinMax code, for the parity test, beside Debian's torch (so --no-deps); Debian
# marks its Python as externally managed, and this one package goes to /usr/local beside it.
if [ "${1:-}" = "--test" ] && ! /usr/bin/python3 -c "import reinmax" 2>/dev/null; then
  $sudo /usr/bin/python3 -m pip install -q --break-system-packages --no-deps reinmax==0.1.0
fi
