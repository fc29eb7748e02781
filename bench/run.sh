#!/usr/bin/env bash
# bench/run.sh: the benchmark table in one command. Builds the release benchmarks if
# needed, runs every allocator's binary REPS times interleaved (glibc jemalloc tcmalloc
# mimalloc shmpool boost_msm boost_cna limit, then again, the order rotated each round),
# prints the median ns/op of each workload with ratios and targets (report.awk), then the
# callgrind instruction count per malloc+free pair of workload (a), loop subtracted.
#
#   bench/run.sh [--reps N] [--nice N] [--no-callgrind] [--bin-dir DIR] [--keep FILE]
#   bench/run.sh --smoke [--bin-dir DIR]
#
# --smoke (the ctest `bench_smoke`): every workload of every allocator with tiny counts;
# fails if a binary fails, if a peer is not the active allocator or a result is missing.
# It never looks at timings. --bin-dir uses binaries already built there (no build).
# --keep FILE saves the raw RESULT lines. --nice N runs the timed binaries at nice N (a
# negative N needs root): on a machine shared with builds, it keeps the scheduler's share of
# the timings small. Nothing is ever pinned.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
reps=7 smoke=0 callgrind=1 bin_dir="" keep="" nice=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) reps=$2; shift ;;
    --smoke) smoke=1 ;;
    --no-callgrind) callgrind=0 ;;
    --bin-dir) bin_dir=$2; shift ;;
    --keep) keep=$2; shift ;;
    --nice) nice=$2; shift ;;
    *) echo "usage: $0 [--smoke] [--reps N] [--nice N] [--no-callgrind] [--bin-dir DIR]" \
         "[--keep FILE]" >&2
       exit 2 ;;
  esac
  shift
done

if [[ -z $bin_dir ]]; then
  cd "$root"
  [[ -f build/release/build.ninja ]] || cmake --preset release >/dev/null
  cmake --build --preset release --target shmpool_bench >&2
  bin_dir=$root/build/release/bench
fi

allocs=(glibc jemalloc tcmalloc mimalloc shmpool boost_msm boost_cna limit)
binary() {
  case $1 in
    jemalloc | tcmalloc | mimalloc) echo "$bin_dir/shmpool_bench_$1" ;;
    *) echo "$bin_dir/shmpool_bench_glibc" ;;
  esac
}
workloads() {
  case $1 in
    glibc | jemalloc | tcmalloc | mimalloc) echo "a b c" ;;
    shmpool | boost_msm) echo "a b c d256 d2048" ;;
    *) echo "d256 d2048" ;;
  esac
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ $smoke == 1 ]]; then
  for a in "${allocs[@]}"; do
    if ! "$(binary "$a")" --alloc="$a" --smoke >"$tmp/$a.out" 2>"$tmp/$a.err"; then
      echo "bench_smoke: $a failed:" >&2
      cat "$tmp/$a.err" >&2
      exit 1
    fi
    grep -q "^ACTIVE $a " "$tmp/$a.out" || { echo "bench_smoke: $a not proven active" >&2; exit 1; }
    for w in $(workloads "$a"); do
      grep -q "^RESULT $w $a " "$tmp/$a.out" || { echo "bench_smoke: no $w for $a" >&2; exit 1; }
    done
    echo "bench_smoke: $a ok ($(workloads "$a"))"
  done
  exit 0
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "running: $reps interleaved runs per allocator" >&2
n=${#allocs[@]}
for ((r = 0; r < reps; r++)); do
  for ((i = 0; i < n; i++)); do
    a=${allocs[$(((i + r) % n))]}
    nice -n "$nice" "$(binary "$a")" --alloc="$a" >>"$tmp/results"
  done
  echo "  run $((r + 1))/$reps done" >&2
done
[[ -n $keep ]] && cp "$tmp/results" "$keep"
echo "shmpool bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(grep -m1 'model name' \
  /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average $load_before before," \
  "$(cut -d' ' -f1-3 /proc/loadavg) after, nice $nice"
echo
awk -f "$here/report.awk" "$tmp/results"

[[ $callgrind == 1 ]] || exit 0
echo
echo "Workload (a) under callgrind: instructions per malloc+free pair of 64 B"
echo "  (pairs(2N) - pairs(N) - (empty(2N) - empty(N))) / N; loop overhead = empty loop per iteration"
printf "  %-10s %12s %14s\n" allocator instr/pair loop-overhead
for a in glibc jemalloc tcmalloc mimalloc shmpool boost_msm; do
  out=$tmp/cg.$a
  valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out.%p" \
    "$(binary "$a")" --alloc="$a" --callgrind >"$tmp/cg.$a.stdout" 2>"$tmp/cg.$a.log"
  cg_n=$(awk '$1 == "CALLGRIND_N" { print $2 }' "$tmp/cg.$a.stdout")
  awk -v a="$a" -v n="$cg_n" '
    /^desc: Trigger: Client Request: / { name = $NF }
    /^totals:/ { ir[name] = $2 }
    END {
      pair = (ir["pairs_2n"] - ir["pairs_n"]) / n; loop = (ir["empty_2n"] - ir["empty_n"]) / n
      printf "  %-10s %12.1f %14.1f%s\n", a, pair - loop, loop, \
             a == "shmpool" ? sprintf("   target <= 30: %s", pair - loop <= 30 ? "PASS" : "MISS") : ""
    }' "$out".*
done
