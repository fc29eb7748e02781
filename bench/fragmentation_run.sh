#!/usr/bin/env bash
# Runs the fragmentation benchmark for every allocator, each in its own process, and prints
# one line each (see fragmentation_bench.cc). Usage:
#   bench/fragmentation_run.sh [--bin-dir DIR] [--smoke] [--live-mib N]
set -euo pipefail
bin_dir=build/release/bench
args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --bin-dir) bin_dir=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
run() { "$@" "${args[@]}"; }
run "$bin_dir/shmpool_fragmentation_glibc" --backend shmpool
run "$bin_dir/shmpool_fragmentation_glibc" --backend malloc
for m in jemalloc tcmalloc mimalloc; do
  if [[ -x $bin_dir/shmpool_fragmentation_$m ]]; then
    run "$bin_dir/shmpool_fragmentation_$m" --backend malloc
  else
    echo "$m: not built (library not found)"
  fi
done
run "$bin_dir/shmpool_fragmentation_glibc" --backend boost
