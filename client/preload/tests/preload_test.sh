#!/usr/bin/env bash
# libshmpool_malloc.so under programs not written for it, against a private shmpoold. Each
# case checks that the program ran correctly and that the arena served it: while the program
# holds its blocks (it prints "ready" and waits for a line: pause.h) its client in the
# daemon's stats shows the allocations, so a preload that fell back to glibc fails.
# Usage: preload_test.sh CASE SHMPOOLD SHMPOOLCTL LIBSHMPOOL_MALLOC PROBE_DIR [GTEST_BINARY]
# CASE: threads fork fork_cow exit aligned handoff python sort gtest no_daemon bad_arena exhaust_glibc exhaust_fail
set -uo pipefail
case_name=$1 shmpoold=$2 ctl=$3 lib=$4 probes=$5 gtest=${6:-}
work=$(mktemp -d /tmp/preload-test.XXXXXX)
shm=$(mktemp -d /dev/shm/preload-test.XXXXXX)
ep=unix:$work/d.sock
"$shmpoold" --listen "$ep" --shm-dir "$shm" 2>"$work/daemon.log" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon; rm -rf "$work" "$shm"' EXIT
export SHMPOOL_ENDPOINT=$ep
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
for _ in $(seq 100); do "$ctl" arena list >/dev/null 2>&1 && break; sleep 0.1; done
"$ctl" arena create t --capacity 1GiB >/dev/null || fail "arena create"

# client_blocks PID: blocks (small and large) the client of process PID allocated in arena t.
client_blocks() {
  "$ctl" stats t --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
pid = int(sys.argv[1])
print(sum(int(c.get("nmalloc", 0)) + int(c.get("large_nmalloc", 0))
          for a in d["arenas"] for c in a.get("clients", []) if int(c["session"]["pid"]) == pid))
' "$1"
}
# arena_figure NAME: the figure NAME of arena t.
arena_figure() {
  "$ctl" stats t --json | python3 -c '
import json, sys
print(int(json.load(sys.stdin)["arenas"][0][sys.argv[1]]))' "$1"
}

# start_paused MIN CMD...: starts CMD under the preload on arena t; when it prints "ready",
# checks that its client allocated at least MIN blocks. Its pid in $pid, its output in
# $work/out and $work/err.
start_paused() {
  local min=$1
  shift
  rm -f "$work/go"
  mkfifo "$work/go"
  LD_PRELOAD=$lib SHMPOOL_ARENA=t "$@" <"$work/go" >"$work/out" 2>"$work/err" &
  pid=$!
  exec 7>"$work/go"
  for _ in $(seq 1200); do
    grep -q '^ready' "$work/out" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
  done
  grep -q '^ready' "$work/out" || fail "$* never paused: $(cat "$work/err")"
  local n
  n=$(client_blocks $pid)
  echo "$1: its client allocated $n blocks from arena t while it ran"
  ((n >= min)) || fail "$*: its client in arena t allocated $n blocks, want >= $min"
}
# finish_paused: lets the program started by start_paused finish; its exit code in $rc.
finish_paused() {
  echo go >&7
  exec 7>&-
  wait $pid
  rc=$?
}
paused() {
  start_paused "$@"
  finish_paused
}

case $case_name in
  threads)
    start_paused 100000 "$probes/preload_threads_probe"
    # Its free pages are the daemon's to purge while it holds blocks; it then checks them.
    "$ctl" purge t >"$work/purge" 2>&1 || fail "purge while the probe runs: $(cat "$work/purge")"
    cat "$work/purge"
    finish_paused
    [[ $rc == 0 && $(tail -1 "$work/out") == ok ]] || fail "threads probe: rc $rc $(cat "$work/err")"
    ;;
  fork | fork_cow)
    [[ $case_name == fork_cow ]] && export SHMPOOL_MALLOC_FORK=cow
    paused 20000 "$probes/preload_fork_probe"
    [[ $rc == 0 && $(tail -1 "$work/out") == ok ]] || fail "fork probe: rc $rc $(cat "$work/err")"
    ;;
  exit)
    paused 4000 "$probes/preload_exit_probe"
    [[ $rc == 0 ]] || fail "exit probe exited $rc: $(cat "$work/err")"
    [[ $(tail -1 "$work/out") == exited ]] || fail "the last atexit handler's output is missing"
    [[ ! -s $work/err ]] || fail "exit probe wrote to stderr: $(cat "$work/err")"
    ;;
  aligned)
    paused 10000 "$probes/preload_aligned_probe"
    [[ $rc == 0 && $(tail -1 "$work/out") == ok ]] || fail "aligned probe: rc $rc $(cat "$work/err")"
    ;;
  handoff)
    start_paused 1 "$probes/preload_handoff_probe" give
    ref=$(sed -n 's/^ref //p' "$work/out")
    out=$(LD_PRELOAD=$lib SHMPOOL_ARENA=t "$probes/preload_handoff_probe" take "$ref" 2>&1)
    [[ $out == ok ]] || fail "the taker of ref '$ref': $out"
    finish_paused
    [[ $rc == 0 ]] || fail "the giver exited $rc: $(cat "$work/err")"
    ;;
  python)
    # PYTHONMALLOC=malloc: small objects through malloc too, not only pymalloc's arenas
    # (which pymalloc maps itself).
    paused 200000 env PYTHONMALLOC=malloc /usr/bin/python3 -c '
d = {i: str(i) * (i % 50) for i in range(300000)}
l = [[j for j in range(i % 40)] for i in range(100000)]
s = "".join(str(i) for i in range(200000))
words = sorted(s[i:i + 7] for i in range(0, len(s), 3))
print("ready", flush=True)
input()
assert len(d) == 300000 and d[12345] == "12345" * 45 and sum(map(len, l)) == 1950000
del d, l, words
print("ok")'
    [[ $rc == 0 && $(tail -1 "$work/out") == ok ]] || fail "python3: rc $rc $(cat "$work/err")"
    ;;
  sort)
    python3 -c '
import random
r = random.Random(7)
with open("'"$work"'/data", "w") as f:
    for i in range(400000):
        f.write("%08x %s\n" % (r.getrandbits(32), "z" * r.randrange(40)))'
    LC_ALL=C sort "$work/data" >"$work/want"
    mkfifo "$work/in" "$work/gate"
    # Everything but what the pipe holds reaches sort before the gate opens and EOF comes.
    { cat "$work/data"; touch "$work/fed"; read -r _ <"$work/gate"; } >"$work/in" &
    feeder=$!
    LC_ALL=C LD_PRELOAD=$lib SHMPOOL_ARENA=t sort <"$work/in" >"$work/got" 2>"$work/err" &
    pid=$!
    for _ in $(seq 1200); do [[ -e $work/fed ]] && break; sleep 0.05; done
    n=$(client_blocks $pid)
    allocated=$(arena_figure allocated_bytes)
    echo "sort: its client allocated $n blocks, arena t holds $allocated bytes, while it reads"
    ((n >= 1 && allocated >= 8 * 1024 * 1024)) || fail "sort's arena figures: $n blocks, $allocated bytes"
    echo >"$work/gate"
    wait $feeder
    wait $pid || fail "sort exited $?: $(cat "$work/err")"
    cmp -s "$work/want" "$work/got" || fail "sort under the preload sorted differently"
    ;;
  gtest)
    before=$(arena_figure nmalloc)
    LD_PRELOAD=$lib SHMPOOL_ARENA=t "$gtest" >"$work/out" 2>"$work/err"
    rc=$?
    after=$(arena_figure nmalloc)
    echo "$(basename "$gtest"): arena t nmalloc $before before, $after after"
    [[ $rc == 0 ]] && grep -q '^\[  PASSED  \]' "$work/out" || fail "$gtest: rc $rc $(tail -5 "$work/out")"
    ((after - before >= 10000)) || fail "the arena served $((after - before)) blocks of $gtest"
    ;;
  no_daemon | bad_arena)
    if [[ $case_name == no_daemon ]]; then
      env=(SHMPOOL_ENDPOINT=unix:$work/nobody.sock SHMPOOL_ATTACH_TIMEOUT_MS=0 SHMPOOL_ARENA=t)
    else
      env=(SHMPOOL_ARENA=nope)
    fi
    out=$(env "${env[@]}" LD_PRELOAD=$lib /usr/bin/python3 -c 'print(len([str(i) for i in range(100000)]))' 2>"$work/err")
    [[ $out == 100000 ]] || fail "python3 without an arena printed '$out'"
    [[ $(wc -l <"$work/err") == 1 ]] && grep -q '^shmpool_malloc: cannot attach' "$work/err" ||
      fail "want one message on stderr, got: $(cat "$work/err")"
    out=$(env "${env[@]}" SHMPOOL_MALLOC_QUIET=1 LD_PRELOAD=$lib sort <<<$'b\na' 2>"$work/err")
    [[ $out == $'a\nb' && ! -s $work/err ]] || fail "quiet: '$out', stderr: $(cat "$work/err")"
    ;;
  exhaust_glibc | exhaust_fail)
    "$ctl" arena create small --capacity 64MiB >/dev/null || fail "arena create small"
    mode=${case_name#exhaust_}
    out=$(SHMPOOL_MALLOC_FALLBACK=$mode LD_PRELOAD=$lib SHMPOOL_ARENA=small \
      "$probes/preload_exhaust_probe" 2>"$work/err")
    echo "fallback $mode: $out; stderr: $(cat "$work/err")"
    grep -q 'arena exhausted' "$work/err" || fail "no exhaustion message: $(cat "$work/err")"
    got=${out#got }
    if [[ $mode == glibc ]]; then
      ((got == 256)) || fail "with glibc as fallback the probe got $got blocks, want 256"
    else
      ((got > 0 && got < 64)) || fail "with fallback=fail the probe got $got blocks of 1 MiB"
    fi
    ;;
  *) fail "unknown case $case_name" ;;
esac
((failures == 0)) && echo PASS
exit $((failures > 0))
