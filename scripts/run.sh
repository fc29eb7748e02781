#!/usr/bin/env bash
# The main job on a new machine: installs the Debian packages, builds shmpool (release),
# starts shmpoold on its embedded default (one 1 GiB arena "default", sparse, in /dev/shm/shmpool)
# and runs the demo: two processes attach, one allocates packet buffers and hands them
# over, the other frees them; then `shmpoolctl stats` and `shmpoolctl purge`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target shmpoold shmpoolctl packet_demo
SHMPOOL_BUILD_DIR="$PWD/build/release" scripts/demo.sh
