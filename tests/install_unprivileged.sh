#!/usr/bin/env bash
# As a cluster user would, without root: an ordinary user builds gsvae from a clean copy of the
# committed tree (git archive HEAD), installs it into a prefix of their own with cmake --install,
# and trains from the installed binary and config. Run as root (CI), it creates the user
# gsvae-build and runs everything as that user, so any step that needs root, or writes outside
# the prefix and the work dir, fails. CPU-only (-DGSVAE_CUDA=OFF) to keep it short: the CUDA
# part of CMakeLists.txt finds its toolkit the same way from CMAKE_PREFIX_PATH and PATH.
# usage: install_unprivileged.sh SOURCE_DIR SMALL_DATA_DIR
set -euo pipefail
source_dir=$1; data=$2
work=$(mktemp -d /tmp/gsvae-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
git -C "$source_dir" archive --format=tar HEAD | tar -x -C "$work/src"
cp -r "$data" "$work/data"
cat > "$work/steps.sh" <<STEPS
set -euo pipefail
cd "$work"
[ "\$(id -u)" -ne 0 ] || { echo "install_unprivileged: still root" >&2; exit 1; }
cmake -S src -B build -DCMAKE_BUILD_TYPE=Release -DGSVAE_CUDA=OFF -DBUILD_TESTING=OFF \
      -DCMAKE_INSTALL_PREFIX="$work/prefix" > cmake.log
cmake --build build -j"\$(nproc)" > build.log
cmake --install build > install.log
"$work/prefix/bin/gsvae" info | head -3
"$work/prefix/bin/gsvae" train "$work/prefix/share/gsvae/configs/seed.yaml" data.dir="$work/data" train.epochs=1 \
    train.batch=50 run.dir="$work/run" run.resume=never | tail -1
test -s "$work/run/run.h5"
test -x "$work/prefix/share/gsvae/launch/mpirun_bind.sh"
test -f "$work/prefix/share/gsvae/launch/slurm_train.sbatch"
STEPS
if [ "$(id -u)" -eq 0 ]; then
  id gsvae-build >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin gsvae-build
  chown -R gsvae-build "$work"
  env -i PATH="$PATH" HOME="$work" runuser -u gsvae-build -- bash "$work/steps.sh"
else
  HOME="$work" bash "$work/steps.sh"
fi
echo "install_unprivileged: built, installed into a prefix and trained as $( [ "$(id -u)" -eq 0 ] && echo gsvae-build || id -un)"
