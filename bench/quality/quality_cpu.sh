#!/usr/bin/env bash
# The seed setup for 3 epochs on Fashion-MNIST, gsvae vs the PyTorch reference over 3 seeds;
# writes bench/quality/results/quality_cpu.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
launch/install.sh --test
launch/build.sh
/usr/bin/python3 bench/quality/quality_cpu.py build/gsvae bench/quality/results/quality_cpu.md "$@"
