#!/usr/bin/env bash
# Operators' tools end to end: a real Prometheus server scrapes shmpoold's
# /metrics and the metric is read back through Prometheus's HTTP API; promtool accepts the
# exposition; the decay policy purges freed pages in the background; the memory-limit
# policy purges under pressure; `shmpoolctl doctor`, `top` and `map` run against it.
# Usage: ops_test.sh SHMPOOLD SHMPOOLCTL WORKER
set -uo pipefail
shmpoold=$1 ctl=$2 worker=$3
work=$(mktemp -d /tmp/shmpool-ops-test.XXXXXX)
shm=$(mktemp -d /dev/shm/shmpool-ops-test.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$work" "$shm"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
need() { command -v "$1" >/dev/null || { echo "FAIL: $1 is not installed (scripts/install-deps.sh)"; exit 1; }; }
need prometheus
need promtool
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_get() { python3 -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
# stat NAME FIELD: one field of an arena's stats (JSON) as a number.
stat_of() {
  "$ctl" --endpoint "$ep" stats "$1" --json |
    python3 -c "import json,sys; print(int(json.load(sys.stdin)['arenas'][0]['$2']))"
}

# wait_for_purge: waits up to 5 s until arena "default" has been purged at least once.
wait_for_purge() {
  for _ in $(seq 50); do
    [[ $(stat_of default purge_count) -ge 1 ]] && return 0
    sleep 0.1
  done
  return 1
}

# --- one daemon with /metrics and a 300 ms decay -----------------------------------------
ep=unix:$work/d.sock
mport=$(free_port)
"$shmpoold" --listen "$ep" --shm-dir "$shm" --metrics-listen "127.0.0.1:$mport" \
  --decay-ms 300 2>"$work/log" &
pids+=($!)
for _ in $(seq 100); do "$ctl" --endpoint "$ep" arena list >/dev/null 2>&1 && break; sleep 0.1; done

# Decay: 64 large blocks of 64 KiB allocated and freed leave 4 MiB of backed free runs; the
# policy thread must purge them within about 300 ms (allow 5 s).
coproc W { "$worker"; }
echo "attach $ep default" >&"${W[1]}"
read -r line <&"${W[0]}"
[[ $line == ok* ]] || fail "attach: $line"
echo "alloc 65536 64" >&"${W[1]}"
read -r line <&"${W[0]}"
[[ $line == ok* ]] || fail "alloc: $line"
refs=${line#ok }
resident_full=$(stat_of default resident_bytes)
echo "free $refs" >&"${W[1]}"
read -r line <&"${W[0]}"
wait_for_purge || fail "decay: no purge 5 s after freeing 4 MiB (log: $(cat "$work/log"))"
grep -q 'event=purged arena=default reason=decay' "$work/log" || fail "decay purge not logged"
[[ $(stat_of default purges_decay) -ge 1 ]] || fail "decay: purges_decay not counted"
resident_after=$(stat_of default resident_bytes)
(( resident_after + 4 * 1048576 <= resident_full )) ||
  fail "decay: resident $resident_full -> $resident_after, want 4 MiB less"
retained=$(stat_of default retained_bytes)
(( retained >= 4 * 1048576 )) || fail "decay: retained $retained, want >= 4 MiB"

# promtool accepts the exposition, which names the arena.
http_get "http://127.0.0.1:$mport/metrics" >"$work/metrics.txt" || fail "GET /metrics"
promtool check metrics <"$work/metrics.txt" >"$work/promtool.txt" 2>&1 ||
  fail "promtool check metrics: $(cat "$work/promtool.txt")"
grep -q '^shmpool_arena_purges_total{arena="default",reason="decay"} [1-9]' "$work/metrics.txt" ||
  fail "purges_total missing: $(grep purges_total "$work/metrics.txt")"

# A real Prometheus scrapes the daemon; the value comes back through its query API.
pport=$(free_port)
cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: shmpoold
    static_configs:
      - targets: ["127.0.0.1:$mport"]
YML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$pport" >"$work/prometheus.log" 2>&1 &
pids+=($!)
value=""
q='shmpool_arena_capacity_bytes%7Barena%3D%22default%22%7D'
for _ in $(seq 60); do
  value=$(http_get "http://127.0.0.1:$pport/api/v1/query?query=$q" 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null)
  [[ -n $value ]] && break
  sleep 0.5
done
[[ $value == 1073741824 ]] ||
  fail "Prometheus query gave '$value', want 1073741824 (log: $(tail -5 "$work/prometheus.log"))"

# Doctor and top run against the live daemon.
out=$("$ctl" --endpoint "$ep" doctor default) || fail "doctor exited $?"
[[ $out == *"arena default:"* ]] || fail "doctor: $out"
out=$("$ctl" --endpoint "$ep" top --interval 100ms --iterations 3) || fail "top exited $?"
[[ $(grep -c '^ARENA' <<<"$out") == 3 ]] || fail "top: want 3 tables, got: $out"
[[ $out == *default* ]] || fail "top: $out"

# The map: a slab-using allocation shows as a slab cell; the purged runs as purged; SVG.
echo "alloc 48 1000" >&"${W[1]}"
read -r line <&"${W[0]}"
out=$("$ctl" --endpoint "$ep" map default --cells 64) || fail "map exited $?"
[[ $out == *"'%' partial slab"* && $out == *"'_' purged"* ]] || fail "map legend: $out"
grep -q '|.*[%#].*|' <<<"$out" || fail "map shows no slab cell: $out"
"$ctl" --endpoint "$ep" map default --output "$work/map.svg" >/dev/null || fail "map --output"
grep -q '^<svg' "$work/map.svg" && grep -q '<title>cell 0:' "$work/map.svg" ||
  fail "map.svg: $(head -c 300 "$work/map.svg")"

echo "exit" >&"${W[1]}"

# --- pressure: a daemon with a 1 MiB memory limit and no decay -----------------------------
shm2=$shm/pressure
mkdir -p "$shm2"
ep=unix:$work/p.sock
"$shmpoold" --listen "$ep" --shm-dir "$shm2" --memory-limit 1MiB 2>"$work/log2" &
pids+=($!)
for _ in $(seq 100); do "$ctl" --endpoint "$ep" arena list >/dev/null 2>&1 && break; sleep 0.1; done
coproc W2 { "$worker"; }
echo "attach $ep default" >&"${W2[1]}"
read -r line <&"${W2[0]}"
echo "alloc 65536 64" >&"${W2[1]}"
read -r line <&"${W2[0]}"
refs=${line#ok }
echo "free $refs" >&"${W2[1]}"
read -r line <&"${W2[0]}"
wait_for_purge || fail "memory limit: no purge (log: $(cat "$work/log2"))"
grep -q 'reason=memory_limit' "$work/log2" || fail "memory-limit purge not logged"
[[ $(stat_of default purges_pressure) -ge 1 ]] || fail "memory limit: purges_pressure not counted"
echo "exit" >&"${W2[1]}"

echo "$((failures == 0 ? 1 : 0)) passed, $failures failed"
[[ $failures == 0 ]]
