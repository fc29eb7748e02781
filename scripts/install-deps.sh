#!/usr/bin/env bash
# Installs the Debian 12 packages shmpool builds, tests and benchmarks with.
# Idempotent: does nothing (and needs no network) when they are all present.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config clang clang-format
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libabsl-dev libboost-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libjemalloc-dev libgoogle-perftools-dev libmimalloc-dev valgrind
  python3 python3-numpy python3-pytest python3-grpcio python3-protobuf
  libsystemd-dev systemd yamllint prometheus librsvg2-bin openssl
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
