#!/usr/bin/env bash
# shmpoolctl end to end: exit codes (0 ok, 1 refused by the daemon, 2 usage), the daemon's
# messages on stderr, --json output that parses as one JSON document, each command's own
# --help and options, map's output extensions, and top's q, width and loss of its daemon.
# Usage: shmpoolctl_test.sh SHMPOOLD SHMPOOLCTL WORKER VERSION
set -uo pipefail
shmpoold=$1 ctl=$2 worker=$3 version=$4
work=$(mktemp -d /tmp/shmpoolctl-test.XXXXXX)
shm=$(mktemp -d /dev/shm/shmpoolctl-test.XXXXXX)
ep=unix:$work/d.sock
"$shmpoold" --listen "$ep" --shm-dir "$shm" 2>"$work/log" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon; rm -rf "$work" "$shm"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect RC ARGS...: runs shmpoolctl, checks the exit code; output in $out, $err.
expect() {
  local want=$1
  shift
  out=$("$ctl" --endpoint "$ep" "$@" 2>"$work/err")
  local rc=$?
  err=$(cat "$work/err")
  [[ $rc == "$want" ]] || fail "shmpoolctl $* exited $rc, want $want (stderr: $err)"
}
# json EXPR: evaluates a python expression over the JSON document in $out (as d).
json() {
  python3 -c "import json,sys; d=json.loads(sys.stdin.read()); sys.exit(0 if ($1) else 1)" \
    <<<"$out" 2>/dev/null || fail "json check '$1' on: $out"
}
contains() { [[ $2 == *"$1"* ]] || fail "'$1' not in: $2"; }

for _ in $(seq 100); do "$ctl" --endpoint "$ep" arena list >/dev/null 2>&1 && break; sleep 0.1; done

expect 0 arena create t1 --capacity 64MiB --quota 1MiB
contains "created arena t1" "$out"
expect 1 arena create t1 --capacity 64MiB
contains "ALREADY_EXISTS" "$err"
expect 1 arena create a/b --capacity 1GiB
contains "INVALID_ARGUMENT" "$err"
contains "'/'" "$err"
expect 1 arena create big --capacity 4097
contains "multiple of 4 KiB" "$err"
expect 2 arena create x --capacity 12XB
contains "bad size" "$err"
expect 2 arena create x
expect 0 arena list --json
json 'sorted(a["name"] for a in d["arenas"]) == ["arenas/default", "arenas/t1"]'
expect 0 arena list
contains "t1" "$out"
expect 0 arena get t1 --json
json 'd["capacity_bytes"] == 64 * 2**20 and d["quota_bytes"] == 2**20'
expect 0 arena get t1
contains "64 MiB" "$out"
# One naming rule for every command's JSON; ratios undefined while nothing is allocated.
expect 0 stats t1 --json
json 'd["arenas"][0]["capacity_bytes"] == 64 * 2**20 and d["arenas"][0]["quota_bytes"] == 2**20'
json 'd["arenas"][0]["rss_ratio"] is None and d["arenas"][0]["external_fragmentation"] is None'
expect 0 stats t1
[[ $out =~ rss_ratio\ +n/a ]] || fail "rss_ratio is not n/a: $out"
expect 1 arena get nope
contains "NOT_FOUND" "$err"

# A client allocates: stats show it; delete is refused while it is attached, reset is not.
coproc W { "$worker"; }
# Bash unsets W_PID once the coprocess has exited: keep it for the wait below.
worker_pid=$W_PID
echo "attach $ep t1" >&"${W[1]}"
read -r line <&"${W[0]}"
[[ $line == ok* ]] || fail "worker attach: $line"
echo "alloc 256 100" >&"${W[1]}"
read -r line <&"${W[0]}"
expect 0 stats t1 --json
json 'd["arenas"][0]["allocated_bytes"] == 25600 and len(d["arenas"][0]["clients"]) == 1'
expect 0 stats t1
contains "allocated_bytes" "$out"
contains "shmpool_test_wo" "$out"
expect 0 stats --json
json 'len(d["arenas"]) == 2'
expect 1 arena delete t1
contains "FAILED_PRECONDITION" "$err"
contains "1 client is still attached" "$err"
expect 0 arena reset t1
contains "reset arena t1 to generation 1" "$out"
contains "1 retired generation kept" "$out"
expect 0 arena get t1 --json
json 'd["generation"] == 1 and len(d["retired_segments"]) == 1'
json 'd["retired_segments"][0]["attached_clients"] == 1'
expect 0 arena get t1
contains "retired generation 0" "$out"
echo "free ${line#ok }" >&"${W[1]}"
read -r _ <&"${W[0]}"
echo "detach" >&"${W[1]}"
read -r _ <&"${W[0]}"
echo "exit" >&"${W[1]}"
wait "$worker_pid" 2>/dev/null

expect 0 purge t1 --json
json 'd["arenas"][0]["name"] == "arenas/t1" and d["released_bytes"] >= 0 and "duration" in d'
expect 0 purge --all --json
json 'len(d["arenas"]) == 2'
expect 0 purge --all
contains "released" "$out"
expect 2 purge
# The retired generation goes once its client has detached.
for _ in $(seq 50); do
  expect 0 arena get t1 --json
  [[ $out == *'"retired_segments":[]'* ]] && break
  sleep 0.1
done
json 'd["retired_segments"] == []'
expect 0 arena reset t1
contains "to generation 2" "$out"
# Every command that prints honours --json (doctor, map, top: one object per frame) or
# refuses it with exit 2.
expect 0 pool create default idle --object-size 4096 --count 512 --json
json 'd["count"] == 512'
expect 0 doctor default --json
json 'd["arenas"][0]["name"] == "arenas/default"'
json 'any(f["severity"] == "info" and f["code"] == "pool_size" and "never been used" in f["message"] for f in d["arenas"][0]["findings"])'
expect 0 doctor --json
json 'len(d["arenas"]) == 2 and all(set(f) == {"severity", "code", "message"} for a in d["arenas"] for f in a["findings"])'
expect 0 pool list default --json
json '[p["name"] for p in d["pools"]] == ["arenas/default/pools/idle"]'
expect 0 pool delete default idle --json
json 'd["name"] == "arenas/default/pools/idle" and d["deleted"] is True'
expect 0 arena set-quota t1 2MiB --json
json 'd["quota_bytes"] == 2 * 2**20'
expect 0 arena update t1 --quota 0 --json
json 'd["quota_bytes"] == 0'
expect 0 segments list --shm-dir "$shm" --json
json 'd["daemon_running"] is True and len(d["segments"]) >= 2'
expect 0 map t1 --cells 16 --json
json 'd["name"] == "arenas/t1" and len(d["cells"]) == 16 and d["pages"] > 0'
expect 2 map t1 --json --output "$work/m.svg"
contains "--json" "$err"
[[ ! -e $work/m.svg ]] || fail "map --json --output wrote $work/m.svg"
# map --output writes SVG, or PNG through rsvg-convert: any other extension is refused.
expect 2 map t1 --output "$work/m.jpg"
contains "give a file name ending in .svg or .png" "$err"
[[ ! -e $work/m.jpg ]] || fail "map --output m.jpg wrote $work/m.jpg"
expect 0 map t1 --cells 16 --output "$work/m.SVG"
[[ $(head -c 4 "$work/m.SVG") == "<svg" ]] || fail "map --output m.SVG is not SVG"
expect 0 top --interval 100ms --iterations 2 --json
[[ $(wc -l <<<"$out") == 2 ]] || fail "top --json: want 2 lines, got: $out"
while read -r frame; do
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if len(d["arenas"]) == 2 and "read_time" in d else 1)' "$frame" 2>/dev/null ||
    fail "top --json frame: $frame"
done <<<"$out"
[[ $out != *$'\033'* ]] || fail "top --json drew escape sequences: $out"
# top: q quits (stdin here is a pipe: the key is read all the same).
out=$(printf q | timeout 20 "$ctl" --endpoint "$ep" top --interval 100ms 2>"$work/err")
rc=$?
[[ $rc == 0 ]] || fail "top did not quit on q: exit $rc ($(cat "$work/err"))"
# It fits the width ($COLUMNS when stdout is no terminal), leaving columns out.
export COLUMNS=50
expect 0 top --interval 100ms --iterations 1
unset COLUMNS
contains "ARENA" "$out"
contains "columns hidden" "$out"
while IFS= read -r l; do
  ((${#l} <= 50)) || fail "top line wider than COLUMNS=50 (${#l}): $l"
done <<<"$out"
# When its daemon goes away, top says so and exits 1.
mkdir -p "$shm/gone"
"$shmpoold" --listen "unix:$work/gone.sock" --shm-dir "$shm/gone" 2>"$work/gone.log" &
gone=$!
for _ in $(seq 100); do
  "$ctl" --endpoint "unix:$work/gone.sock" arena list >/dev/null 2>&1 && break
  sleep 0.1
done
timeout 20 "$ctl" --endpoint "unix:$work/gone.sock" top --interval 50ms --timeout 0 \
  >"$work/top.out" 2>"$work/top.err" </dev/null &
top_pid=$!
for _ in $(seq 200); do [[ -s $work/top.out ]] && break; sleep 0.05; done
[[ -s $work/top.out ]] || fail "top drew nothing from the second daemon: $(cat "$work/top.err")"
kill -TERM $gone
wait $gone
wait $top_pid
rc=$?
[[ $rc == 1 ]] || fail "top exited $rc when its daemon went away, want 1 (stderr: $(cat "$work/top.err"))"
[[ -s $work/top.err ]] || fail "top said nothing when its daemon went away"
mkdir "$work/segs" && : >"$work/segs/shmpool.gone.seg"
expect 0 segments remove "$work/segs/shmpool.gone.seg" --json
json 'd["path"].endswith("/shmpool.gone.seg") and d["removed"] is True and d["live_pids"] == []'
expect 0 arena delete t1 --json
json 'd["deleted"] is True'
expect 1 stats t1
contains "NOT_FOUND" "$err"
expect 2 frobnicate
expect 2 arena list --bogus
# Each command takes its own options only, and has its own --help.
expect 2 arena list --capacity 1GiB
contains "arena list: unknown option --capacity" "$err"
expect 2 top --cells 4 --iterations 1
contains "top: unknown option --cells" "$err"
expect 0 arena create --help
contains "usage: shmpoolctl arena create NAME" "$out"
contains "--max-thread-caches N" "$out"
[[ $out != *"pool create"* ]] || fail "arena create --help printed every command: $out"
expect 0 pool create -h
contains "--object-size N" "$out"
expect 0 help segments remove
contains "--force" "$out"
expect 0 arena --help
contains "arena set-quota NAME SIZE" "$out"
expect 2 arena
contains "create, list, get" "$err"
expect 0 --help
contains "arena create" "$out"
expect 0 -h
contains "arena create" "$out"
expect 0 --version
[[ $out == "shmpoolctl $version" ]] || fail "--version printed: $out"
out=$("$ctl" --endpoint unix:$work/none.sock arena list 2>&1)
[[ $? == 1 && $out == *UNAVAILABLE* ]] || fail "unreachable daemon: $out"

if ((failures)); then
  echo "$failures failure(s); daemon log:"
  cat "$work/log"
  exit 1
fi
echo "shmpoolctl: all checks passed"
