#!/usr/bin/env bash
# The main job on a new machine: installs the Debian packages, builds shmpool (release),
# starts shmpoold on its embedded default (one 1 GiB arena "default", sparse, in /dev/shm/shmpool)
# and runs the demo: two processes attach, one allocates packet buffers and hands them
# over, the other frees them; then `shmpoolctl stats` and `shmpoolctl purge`.
# Before the demo it installs the release build into /usr/local (cmake --install: the
# binaries, the libraries with libshmpool.so.1, headers, CMake and pkg-config packages, the
# Python package) and makes `import shmpool` work for the python3 on PATH and Debian's
# /usr/bin/python3 (python/install-pth.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target shmpoold shmpoolctl packet_demo shmpool_client \
  shmpool_shared
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
prefix=/usr/local
$SUDO cmake --install build/release --prefix "$prefix" >/dev/null
$SUDO ldconfig
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' build/release/CMakeCache.txt)
# sudo resets PATH: the interpreters by their real paths.
pythons=(/usr/bin/python3)
if command -v python3 >/dev/null; then
  pythons+=("$(python3 -c 'import sys; print(sys.executable)')")
fi
$SUDO python/install-pth.sh "$prefix/$libdir/shmpool/python" "${pythons[@]}"
SHMPOOL_BUILD_DIR="$PWD/build/release" scripts/demo.sh
