#!/usr/bin/env bash
# Unmodified programs under each malloc, all through LD_PRELOAD: libshmpool_malloc.so (on an
# arena of a private shmpoold), tcmalloc, jemalloc, mimalloc, and glibc (nothing preloaded).
# Workloads (README.md): xthread, threads, large, realloc (workloads.cc), python3 running a
# script with heavy small-object churn, and `sort` of a generated 30 MB file. Rounds
# alternate the mallocs (every workload under every malloc once per round); the table gives
# each median in seconds, its ratio to the best of the process-local mallocs, and the
# geometric mean of the ratios. A timing, never a test.
# Usage: preload_run.sh BUILD_DIR DAEMON_BUILD_DIR [ROUNDS]   (BUILD_DIR: a Release build
#        with libshmpool_malloc.so and shmpool_preload_workloads; DAEMON_BUILD_DIR: any build
#        with shmpoold and shmpoolctl, which are not on the data path)
set -euo pipefail
build=$1 daemon_build=$2 rounds=${3:-5}
lib=$build/client/preload/libshmpool_malloc.so
wl=$build/bench/preload/shmpool_preload_workloads
libdir=/usr/lib/x86_64-linux-gnu
declare -A preload=([shmpool]=$lib [tcmalloc]=$libdir/libtcmalloc.so.4
  [jemalloc]=$libdir/libjemalloc.so.2 [mimalloc]=$libdir/libmimalloc.so.2 [glibc]=)
mallocs=(shmpool tcmalloc jemalloc mimalloc glibc)
work=$(mktemp -d /tmp/preload-bench.XXXXXX)
shm=$(mktemp -d /dev/shm/preload-bench.XXXXXX)
ep=unix:$work/d.sock
"$daemon_build/server/shmpoold" --listen "$ep" --shm-dir "$shm" 2>"$work/daemon.log" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon; rm -rf "$work" "$shm"' EXIT
ctl() { "$daemon_build/ctl/shmpoolctl" --endpoint "$ep" "$@" >/dev/null; }
for _ in $(seq 100); do ctl arena list 2>/dev/null && break; sleep 0.1; done
ctl arena create bench --capacity 16GiB

python3 -c '
import random
r = random.Random(1)
with open("'"$work"'/data", "w") as f:
    for i in range(600000):
        f.write("%016x %s\n" % (r.getrandbits(64), "w" * r.randrange(30)))'
cat >"$work/churn.py" <<'PY'
d = {}
for i in range(400000):
    d[str(i)] = [i, str(i) * 3, (i, i + 1)]
for i in range(0, 400000, 2):
    del d[str(i)]
s = sorted(d.items(), key=lambda kv: kv[1][1])
t = {k: v[0] for k, v in s}
print(len(t), sum(len(x) for x in (k + v[1] for k, v in s[:100000])))
PY
workloads=(xthread threads large realloc python sort)
command_of() {
  case $1 in
    # PYTHONMALLOC=malloc: Python's small objects through malloc, not pymalloc's own arenas.
    python) echo env PYTHONMALLOC=malloc /usr/bin/python3 "$work/churn.py" ;;
    sort) echo env LC_ALL=C sort -o "$work/sorted" "$work/data" ;;
    *) echo "$wl" "$1" ;;
  esac
}

# run MALLOC WORKLOAD: seconds, on stdout; fails if the program fails or the preload speaks.
run() {
  local cmd t0 t1
  read -ra cmd <<<"$(command_of "$2")"
  t0=$(date +%s%N)
  if [[ $1 == glibc ]]; then
    "${cmd[@]}" >/dev/null 2>"$work/err"
  else
    LD_PRELOAD=${preload[$1]} SHMPOOL_ENDPOINT=$ep SHMPOOL_ARENA=bench "${cmd[@]}" \
      >/dev/null 2>"$work/err"
  fi
  t1=$(date +%s%N)
  if [[ -s $work/err ]]; then
    echo "$1 $2: $(cat "$work/err")" >&2
    exit 1
  fi
  # What a program left allocated at exit stays in the arena: start every run from an empty one.
  [[ $1 == shmpool ]] && ctl arena reset bench
  echo "scale=4; ($t1 - $t0) / 1000000000" | bc
}

for ((r = 1; r <= rounds; ++r)); do
  for w in "${workloads[@]}"; do
    for m in "${mallocs[@]}"; do echo "$w $m $(run "$m" "$w")" >>"$work/times"; done
  done
  echo "round $r of $rounds done" >&2
done

python3 - "$work/times" "${mallocs[*]}" "${workloads[*]}" <<'PY'
import math, statistics, sys
times = {}
for line in open(sys.argv[1]):
    w, m, t = line.split()
    times.setdefault((w, m), []).append(float(t))
mallocs, workloads = sys.argv[2].split(), sys.argv[3].split()
local = [m for m in mallocs if m != "shmpool"]
print("| workload | " + " | ".join(mallocs) + " | shmpool / best |")
print("|---" * (len(mallocs) + 2) + "|")
ratios = []
for w in workloads:
    med = {m: statistics.median(times[(w, m)]) for m in mallocs}
    best = min(med[m] for m in local)
    ratios.append(med["shmpool"] / best)
    spread = {m: (max(times[(w, m)]) - min(times[(w, m)])) / med[m] for m in mallocs}
    print("| %s | %s | %.2fx |" % (w, " | ".join("%.3f (±%d%%)" % (med[m], 50 * spread[m])
                                                for m in mallocs), ratios[-1]))
print("\ngeometric mean of shmpool / best process-local malloc: %.2fx over %d workloads, "
      "%d rounds" % (math.exp(sum(map(math.log, ratios)) / len(ratios)), len(ratios),
                     len(next(iter(times.values())))))
PY
