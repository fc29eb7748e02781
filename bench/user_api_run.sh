#!/usr/bin/env bash
# Runs user_api_bench.cc's binaries (one per malloc) in alternating rounds and prints the
# median ns per op of every workload for every backend, and the median over rounds of the
# per-round ratio of the C ABI to shm::Heap's inline path (the same round's two runs sit
# seconds apart in one process, so the ratio cancels most of a shared machine's drift).
# Usage: bench/user_api_run.sh [--bin-dir DIR] [--rounds N] [--min-time S]
#   DIR: a Release build's bench/ (default build/release/bench; it must be built:
#   cmake --build DIR/.. --target shmpool_user_api_bench)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin_dir=$here/../build/release/bench
rounds=5
min_time=0.5
while [[ $# -gt 0 ]]; do
  case $1 in
    --bin-dir) bin_dir=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --min-time) min_time=$2; shift 2 ;;
    *) echo "usage: $0 [--bin-dir DIR] [--rounds N] [--min-time S]" >&2; exit 2 ;;
  esac
done
mallocs=()
for m in glibc jemalloc tcmalloc mimalloc; do
  [[ -x $bin_dir/shmpool_user_api_bench_$m ]] && mallocs+=("$m")
done
[[ ${#mallocs[@]} -gt 0 ]] || { echo "no shmpool_user_api_bench_* in $bin_dir" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < rounds; ++r)); do
  # Rotate the order of the binaries by one each round.
  for ((i = 0; i < ${#mallocs[@]}; ++i)); do
    m=${mallocs[$(((i + r) % ${#mallocs[@]}))]}
    "$bin_dir/shmpool_user_api_bench_$m" --malloc="$m" --benchmark_format=csv \
      --benchmark_min_time="$min_time" --benchmark_enable_random_interleaving=true \
      2>>"$tmp/stderr" | awk -F, -v r="$r" 'NR > 1 { gsub(/"/, "", $1); print r, $1, $7 }' \
      >>"$tmp/results"
  done
  echo "  round $((r + 1))/$rounds done" >&2
done
echo "shmpool user API bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average" \
  "$load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after, $rounds rounds"
awk -v cols="shmpool_c_abi shmpool_heap ${mallocs[*]}" '
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; ++i) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; --j) {
      t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
    }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { split($2, nb, "/"); ns[nb[1], nb[2]] = ns[nb[1], nb[2]] " " 1e9 / $3; at[$1, nb[1], nb[2]] = 1e9 / $3
    rounds[$1] = 1 }
  END {
    nc = split(cols, c, " ")
    printf "\nmedian ns per op\n%-7s", "work"
    for (i = 1; i <= nc; ++i) printf " %14s", c[i]
    printf " %14s\n", "c_abi/heap"
    nw = split("pair lifo churn fifo", w, " ")
    for (k = 1; k <= nw; ++k) {
      printf "%-7s", w[k]
      for (i = 1; i <= nc; ++i) printf " %14.1f", median(ns[w[k], c[i]])
      ratios = ""
      for (r in rounds) ratios = ratios " " at[r, w[k], "shmpool_c_abi"] / at[r, w[k], "shmpool_heap"]
      printf " %13.2fx\n", median(ratios)
    }
  }' "$tmp/results"
