#!/usr/bin/env bash
# demo.sh: shmpool end to end in one minute.
#
#   1. starts shmpoold on its defaults (socket /run/shmpool/shmpoold.sock, or
#      $XDG_RUNTIME_DIR/shmpool/shmpoold.sock when /run is not writable; one arena
#      "default" of 1 GiB, sparse, in /dev/shm/shmpool),
#   2. runs two processes attached to it: one allocates packet buffers and hands their
#      shmpool_refs over a pipe, the other checks and frees them (examples/packet_demo.c),
#   3. shows `shmpoolctl stats` and `shmpoolctl purge`, then stops the daemon (SIGTERM).
#
# Build first: cmake --preset debug && cmake --build --preset debug
# Environment: SHMPOOL_BUILD_DIR (default build/debug); SHMPOOL_DEMO_PRIVATE=1 runs the
# daemon on a private socket and shm directory instead (tests use it); SHMPOOL_DEMO_PACKETS.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${SHMPOOL_BUILD_DIR:-$here/build/debug}
shmpoold=$build/server/shmpoold
ctl=$build/ctl/shmpoolctl
demo=$build/examples/packet_demo
packets=${SHMPOOL_DEMO_PACKETS:-20000}
for bin in "$shmpoold" "$ctl" "$demo"; do
  [[ -x $bin ]] || { echo "demo.sh: $bin is missing: build first" >&2; exit 1; }
done

work=$(mktemp -d /tmp/shmpool-demo.XXXXXX)
daemon_args=()
if [[ ${SHMPOOL_DEMO_PRIVATE:-0} == 1 ]]; then
  shm_dir=$(mktemp -d /dev/shm/shmpool-demo.XXXXXX)
  export SHMPOOL_ENDPOINT=unix:$work/shmpoold.sock
  daemon_args=(--listen "$SHMPOOL_ENDPOINT" --shm-dir "$shm_dir")
fi

daemon_pid=
cleanup() {
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || true
  fi
  rm -rf "$work"
  [[ -n ${shm_dir:-} ]] && rm -rf "$shm_dir"
  return 0
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "starting shmpoold ${daemon_args[*]:-(defaults)}"
"$shmpoold" "${daemon_args[@]}" 2>"$work/shmpoold.log" &
daemon_pid=$!
for _ in $(seq 100); do
  "$ctl" arena list >/dev/null 2>&1 && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/shmpoold.log" >&2; exit 1; }
  sleep 0.1
done
"$ctl" arena list

step "two processes share $packets packet buffers: one allocates, the other frees"
"$demo" produce "$packets" | "$demo" consume

step "shmpoolctl stats default"
"$ctl" stats default

step "shmpoolctl purge default"
"$ctl" purge default

step "stopping shmpoold (SIGTERM; segments stay in place for the next start)"
kill -TERM "$daemon_pid"
wait "$daemon_pid"
daemon_pid=
echo "daemon log (structured, key=value):"
sed 's/^/  /' "$work/shmpoold.log"
