#!/usr/bin/env bash
# The installed tree, end to end: `cmake --install BUILD_DIR` into a temporary prefix; the
# files a user needs are there and every installed header compiles from there alone; a
# consumer (consumer/) is built against that prefix only, with find_package(shmpool)
# (shmpool::client, and shmpool::shmpool: libshmpool.so.1) and with pkg-config (shmpool
# --static, and shmpool-shared); each program runs against the installed shmpoold on a
# private socket and shm directory (attach, malloc, free, purge, detach), so does the
# installed Python package under each interpreter given (it must load the prefix's
# libshmpool.so.1), and the daemon's stats show their allocations.
# Usage: install_test.sh BUILD_DIR CONSUMER_SOURCE_DIR [PYTHON...]
set -euo pipefail
build=$1 src=$2
shift 2
pythons=("$@")
# A fixed work directory in the build tree, so that ccache recognises the consumer's
# compilations from one run to the next (their flags name the prefix); flock keeps two
# runs on one build tree apart.
work=$build/install-test
exec 9>"$build/install-test.lock"
flock 9
rm -rf "$work"
mkdir -p "$work"
shm=$(mktemp -d /dev/shm/shmpool-install-test.XXXXXX)
prefix=$work/prefix
daemon=""
cleanup() {
  if [[ -n $daemon ]]; then kill -TERM "$daemon" 2>/dev/null || true; wait "$daemon" || true; fi
  rm -rf "$work" "$shm"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# run LOG CMD...: runs CMD with its output in LOG, shown only when it fails.
run() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "$* (exit $?)"; }
}

echo "=== cmake --install $build --prefix $prefix"
run "$work/install.log" cmake --install "$build" --prefix "$prefix"
pc=$(find "$prefix" -name shmpool.pc)
[[ -n $pc ]] || fail "no shmpool.pc installed"
for f in bin/shmpoold bin/shmpoolctl include/shmpool/shmpool.h include/shmpool/client.h \
  include/shmpool/shm/heap.h; do
  [[ -e $prefix/$f ]] || fail "$f is not installed"
done
[[ -n $(find "$prefix" -name libshmpool_client.a) ]] || fail "libshmpool_client.a not installed"
so=$(find "$prefix" -name libshmpool.so.1)
[[ -n $so && -n $(find "$prefix" -name libshmpool.so) ]] || fail "libshmpool.so.1 not installed"
pypkg=$(dirname "$so")/shmpool/python
[[ -f $pypkg/shmpool/__init__.py ]] || fail "the Python package is not in $pypkg"
[[ -n $(find "$prefix" -name shmpoolConfig.cmake) ]] || fail "shmpoolConfig.cmake not installed"

# Every installed header, for consumer_cxx to compile from the installed tree alone: an
# installed header that includes a file that is not installed fails the build.
(cd "$prefix/include" && find shmpool -name '*.h' | sort | sed 's/.*/#include <&>/') \
  >"$work/all_headers.h"

# ccache, when there is one, as in the main build: CI compiles the same consumer each run.
launcher=()
cc=(cc)
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cc=(ccache cc)
fi

echo "=== every installed header compiles from the installed tree alone"
# One translation unit that includes them all, with only the prefix on the include path:
# an installed header that includes a file that is not installed fails here.
(cd "$prefix/include" && find shmpool -name '*.h' | sort | sed 's/.*/#include <&>/') \
  >"$work/all_headers.cc"
run "$work/headers.log" c++ -std=c++20 -fsyntax-only -I"$prefix/include" \
  -I"$prefix/include/shmpool" "$work/all_headers.cc"

echo "=== consumer with find_package(shmpool)"
run "$work/cmake-configure.log" cmake -S "$src" -B "$work/cmake-build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" -DALL_HEADERS="$work/all_headers.h" "${launcher[@]}"
run "$work/cmake-build.log" cmake --build "$work/cmake-build"
# Nothing of the source or build tree may be on the consumer's include path (CMake gives
# an imported target's include directories as -isystem).
srcroot=$(cd "$src/../../.." && pwd)
buildroot=$(cd "$build" && pwd)
for dir in $(grep -oE -e "(-I|-isystem ?)[^ ]+" "$work/cmake-build/build.ninja" |
  sed -E 's/^(-I|-isystem ?)//' | sort -u); do
  case $dir in
    "$prefix"/*) ;;
    "$srcroot" | "$srcroot"/* | "$buildroot" | "$buildroot"/*)
      fail "the consumer's include flags name $dir, outside the installed tree" ;;
  esac
done
grep -E -q -e "-isystem ?$prefix/include" "$work/cmake-build/build.ninja" ||
  fail "the consumer's include flags do not name the installed headers"

echo "=== consumer with pkg-config shmpool"
export PKG_CONFIG_PATH=$(dirname "$pc")
[[ $(pkg-config --modversion shmpool) == 0.1.0 ]] || fail "pkg-config --modversion shmpool"
# The library is static: --static brings Libs.private and Requires.private.
read -r -a flags <<<"$(pkg-config --cflags --libs --static shmpool)"
run "$work/pc-build.log" "${cc[@]}" -std=c11 -Wall -Werror -o "$work/consumer_pc" "$src/consumer.c" \
  "${flags[@]}"
read -r -a flags <<<"$(pkg-config --cflags --libs shmpool-shared)"
run "$work/pc-shared-build.log" "${cc[@]}" -std=c11 -Wall -Werror -o "$work/consumer_pc_shared" \
  "$src/consumer.c" "${flags[@]}" -Wl,-rpath,"$(dirname "$so")"
# The shared consumers load the prefix's libshmpool.so.1 and contain nothing of the library.
for prog in "$work/cmake-build/consumer_shared" "$work/consumer_pc_shared"; do
  readelf -d "$prog" | grep -q 'NEEDED.*\[libshmpool.so.1\]' || fail "$prog does not need libshmpool.so.1"
  [[ $(LD_TRACE_LOADED_OBJECTS=1 "$prog" | awk '$1 == "libshmpool.so.1" { print $3 }') == "$so" ]] ||
    fail "$prog does not load $so"
  ! nm "$prog" | grep -q ' T shmpool_malloc' || fail "$prog contains shmpool_malloc"
done

echo "=== installed shmpoold on a private socket"
ep=unix:$work/d.sock
"$prefix/bin/shmpoold" --listen "$ep" --shm-dir "$shm" 2>"$work/daemon.log" &
daemon=$!
ctl() { "$prefix/bin/shmpoolctl" --endpoint "$ep" "$@"; }
for _ in $(seq 300); do ctl arena list >/dev/null 2>&1 && break; sleep 0.1; done
ctl arena list >/dev/null || { cat "$work/daemon.log" >&2; fail "the daemon does not answer"; }

for prog in "$work/cmake-build/consumer_c" "$work/cmake-build/consumer_cxx" \
  "$work/consumer_pc" "$work/cmake-build/consumer_shared" "$work/consumer_pc_shared"; do
  out=$("$prog" "$ep" 2>&1) || { cat "$work/daemon.log" >&2; fail "$prog: $out"; }
  echo "${prog##*/}: $out"
done

# The installed Python package, as install-pth.sh makes it importable (its directory on the
# path), loads the prefix's libshmpool.so.1 and allocates 100 blocks.
for py in "${pythons[@]}"; do
  out=$(env -u SHMPOOL_LIBRARY PYTHONPATH="$pypkg" PYTHONDONTWRITEBYTECODE=1 "$py" - "$ep" "$so" <<'PY' 2>&1
import sys
import shmpool
ep, so = sys.argv[1:]
maps = open("/proc/self/maps").read()
assert so in maps, f"libshmpool.so.1 is not {so}"
with shmpool.attach("default", ep) as c:
    bufs = [c.alloc(64) for _ in range(100)]
    for b in bufs:
        b.view()[:] = b"\x5a" * 64
    del bufs
print(f"python {sys.version.split()[0]}: 100 blocks allocated and freed through {so}")
PY
  ) || { cat "$work/daemon.log" >&2; fail "$py: $out"; }
  echo "$out"
done

# The installed control plane (shmpool.control and its generated modules) under Debian's
# python3, which has grpcio and protobuf: the stats of a block a client holds.
out=$(env -u SHMPOOL_LIBRARY PYTHONPATH="$pypkg" PYTHONDONTWRITEBYTECODE=1 "${pythons[0]}" - "$ep" "$pypkg" <<'PY' 2>&1
import sys
import shmpool
from shmpool import control
ep, pypkg = sys.argv[1:]
assert control.arena_pb2.__file__.startswith(pypkg), control.arena_pb2.__file__
with shmpool.attach("default", ep) as c, control.connect(ep) as ctl:
    buf = c.alloc(4096)
    assert ctl.stats("default")["allocated_bytes"] == 4096 == c.stats()["allocated_bytes"]
    buf.free()
print("shmpool.control: the stats of the installed package's client")
PY
) || { cat "$work/daemon.log" >&2; fail "shmpool.control: $out"; }
echo "$out"

# The daemon saw the programs' allocations (256 + 100 + 256 + 256 + 256 blocks, 100 per
# interpreter), all freed.
ctl stats default --json >"$work/stats.json" || fail "shmpoolctl stats"
python3 - "$work/stats.json" <<'PY' || fail "stats: $(cat "$work/stats.json")"
import json, sys
d = json.load(open(sys.argv[1]))
a = d["arenas"][0] if "arenas" in d else d
assert int(a["nmalloc"]) >= 1124, a["nmalloc"]
assert int(a["allocated_bytes"]) == 0, a["allocated_bytes"]
PY

kill -TERM "$daemon"
status=0
wait "$daemon" || status=$?
daemon=""
[[ $status == 0 ]] || { cat "$work/daemon.log" >&2; fail "shmpoold exited $status on SIGTERM"; }
echo "PASS"
