#!/usr/bin/env bash
# Installs what the tests need, then builds and runs every test:
#   1. debug build (everything, gRPC included)                         ctest --preset debug
#   2. ASan + UBSan build (everything)                                 ctest --preset asan
#   3. TSan build (the data plane: everything that does not link gRPC) ctest --preset tsan
#   4. the libFuzzer targets, briefly, and shmpoold, all built by clang with -Wthread-safety
#      -Werror=thread-safety (scripts/fuzz.sh)
# Usage: scripts/test.sh [debug|asan|tsan|fuzz ...]   (default: all four)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
export CCACHE_DIR="${CCACHE_DIR:-${HOME:-/root}/.cache/ccache}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"

presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(debug asan tsan fuzz)

for p in "${presets[@]}"; do
  if [ "$p" = fuzz ]; then
    echo "=== fuzz: libFuzzer targets, briefly (clang)"
    scripts/fuzz.sh
    continue
  fi
  echo "=== ${p}: configure and build"
  start=$(date +%s)
  cmake --preset "$p" >/dev/null
  cmake --build --preset "$p"
  echo "=== ${p}: test"
  ctest --preset "$p"
  if [ "$p" = debug ]; then deploy/check.sh build/debug; fi
  echo "=== ${p}: done in $(( $(date +%s) - start )) s"
done
