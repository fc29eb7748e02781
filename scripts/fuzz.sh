#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) and shmpoold with clang in build/fuzz (which checks the
# lock annotations: -Wthread-safety) and runs each fuzzer briefly (SHMPOOL_FUZZ_RUNS inputs,
# default 20000, at most 20 s each) through ctest.
# Usage: scripts/fuzz.sh            longer: SHMPOOL_FUZZ_RUNS=1000000 scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${SHMPOOL_FUZZ_RUNS:-20000}"
cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DSHMPOOL_BUILD_FUZZERS=ON \
  -DSHMPOOL_BUILD_TESTS=OFF -DSHMPOOL_BUILD_BENCH=OFF -DSHMPOOL_FUZZ_RUNS="$runs" >/dev/null
# shmpoold too: the build is clang's, so it checks the daemon's lock annotations
# (-Wthread-safety, set in CMakeLists.txt for clang).
cmake --build build/fuzz -j2 --target segment_fuzzer segment_readers_fuzzer alloc_ops_fuzzer \
  request_fuzzer shmpoold
ctest --test-dir build/fuzz -L fuzz --output-on-failure
