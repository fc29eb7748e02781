#!/usr/bin/env bash
# Checks every deployment file with a real tool:
#   shmpoold.service    systemd-analyze verify, against an installed tree (any message fails)
#   shmpoold.toml       the installed shmpoold starts on it and serves its arena
#   kubernetes/*.yaml   yamllint; the ConfigMap's shmpoold.toml as above, and its arena's
#                       segment comes out group 2000, mode 0660 (needs root, as in CI)
#   *.yml, .yamllint    yamllint (deploy/.yamllint)
#   prometheus.yml      promtool check config
#   grafana/*.json      python3 -m json.tool; equal to make_dashboard.py's output; every
#                       metric its PromQL names is in the daemon's real /metrics output
#                       (server/rpc/metrics_text.cc only if this shmpoold refuses --metrics-listen)
#   Dockerfile          its runtime stage installs the Debian package of every library the
#                       installed binaries link directly (readelf NEEDED, ldd, dpkg -S)
# Usage: deploy/check.sh [BUILD_DIR]   (default build/debug; it must be built)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/debug}
work=$(mktemp -d /tmp/shmpool-deploy-check.XXXXXX)
shm=$(mktemp -d /dev/shm/shmpool-deploy-check.XXXXXX)
daemon=""
cleanup() {
  if [[ -n $daemon ]]; then kill -TERM "$daemon" 2>/dev/null || true; wait "$daemon" || true; fi
  rm -rf "$work" "$shm"
}
trap cleanup EXIT
fail() {
  echo "deploy/check.sh: FAIL: $*" >&2
  exit 1
}

# An installed tree as a root file system: /usr/bin/shmpoold for the unit's ExecStart, and
# the host's systemd units (sysinit.target, ...) that every service depends on.
root=$work/root
cmake --install "$build" --prefix "$root/usr" >/dev/null
mkdir -p "$root/etc/systemd/system" "$root/etc/shmpool" "$root/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
ln -s usr/lib "$root/lib"
cp deploy/shmpoold.service "$root/etc/systemd/system/"
cp deploy/shmpoold.toml "$root/etc/shmpool/"

echo "--- systemd-analyze verify deploy/shmpoold.service"
# Unknown keys and bad values are only warnings (exit 0): any message is a failure.
out=$(systemd-analyze verify --root="$root" --man=no "$root/etc/systemd/system/shmpoold.service" 2>&1) ||
  fail "systemd-analyze verify: $out"
[[ -z $out ]] || fail "systemd-analyze verify: $out"

echo "--- yamllint deploy/"
yamllint --strict -c deploy/.yamllint deploy/

echo "--- promtool check config deploy/prometheus/prometheus.yml"
promtool check config deploy/prometheus/prometheus.yml >/dev/null

echo "--- python3 -m json.tool deploy/grafana/*.json"
for f in deploy/grafana/*.json; do python3 -m json.tool "$f" >/dev/null || fail "$f"; done
python3 deploy/grafana/make_dashboard.py | cmp -s - deploy/grafana/shmpool-dashboard.json ||
  fail "deploy/grafana/shmpool-dashboard.json differs from make_dashboard.py's output"

echo "--- shmpoold on deploy/shmpoold.toml, and the dashboard's metrics"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ep=unix:$work/d.sock
"$root/usr/bin/shmpoold" --config deploy/shmpoold.toml --listen "$ep" --shm-dir "$shm" \
  --metrics-listen "127.0.0.1:$port" 2>"$work/daemon.log" &
daemon=$!
metrics=""
for _ in $(seq 100); do
  if ! kill -0 "$daemon" 2>/dev/null; then break; fi
  if python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$port/metrics', timeout=2).read().decode())" \
    >"$work/metrics.txt" 2>/dev/null; then
    metrics=$work/metrics.txt
    break
  fi
  sleep 0.1
done
if [[ -z $metrics ]]; then
  status=0
  kill -0 "$daemon" 2>/dev/null || wait "$daemon" || status=$?
  daemon=""
  # Only a daemon that refuses the flag itself sends us to the source; anything else fails.
  grep -q "metrics-listen is not available" "$work/daemon.log" ||
    fail "shmpoold serves no /metrics (exit $status): $(cat "$work/daemon.log")"
  echo "    this shmpoold has no /metrics yet: metric names from server/rpc/metrics_text.cc"
  "$root/usr/bin/shmpoold" --config deploy/shmpoold.toml --listen "$ep" --shm-dir "$shm" \
    2>"$work/daemon.log" &
  daemon=$!
  metrics=server/rpc/metrics_text.cc
fi
for _ in $(seq 100); do [[ -S $work/d.sock ]] && break; sleep 0.1; done
"$root/usr/bin/shmpoolctl" --endpoint "$ep" arena get default >/dev/null ||
  fail "shmpoold on deploy/shmpoold.toml does not serve arena default: $(cat "$work/daemon.log")"
for f in deploy/grafana/*.json; do python3 deploy/check_dashboard_metrics.py "$f" "$metrics"; done

kill -TERM "$daemon"
wait "$daemon" || fail "shmpoold on deploy/shmpoold.toml: exit $? on SIGTERM"
daemon=""

echo "--- shmpoold on the Kubernetes ConfigMap's shmpoold.toml"
python3 -c '
import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc.get("kind") == "ConfigMap" and "shmpoold.toml" in doc.get("data", {}):
        sys.stdout.write(doc["data"]["shmpoold.toml"])
        break
else:
    sys.exit("no ConfigMap with shmpoold.toml")
' deploy/kubernetes/shmpoold-daemonset.yaml >"$work/k8s.toml"
rm -rf "${shm:?}"/*
"$root/usr/bin/shmpoold" --config "$work/k8s.toml" --listen "$ep" --shm-dir "$shm" \
  2>"$work/daemon.log" &
daemon=$!
for _ in $(seq 100); do "$root/usr/bin/shmpoolctl" --endpoint "$ep" arena list >/dev/null 2>&1 && break; sleep 0.1; done
"$root/usr/bin/shmpoolctl" --endpoint "$ep" arena get default >/dev/null ||
  fail "shmpoold on the ConfigMap's config does not serve arena default: $(cat "$work/daemon.log")"
# The application pods' access rests on the segment's group (supplementalGroups: [2000]).
[[ $(stat -c %g:%a "$shm/shmpool.default.seg") == 2000:660 ]] ||
  fail "the ConfigMap's arena segment is not group 2000, mode 0660: $(stat -c %g:%a "$shm/shmpool.default.seg")"

echo "--- Dockerfile runtime packages"
# The package list of the runtime stage: the apt-get install after the last FROM.
wanted=$(awk '/^FROM /{stage++} {print stage "\t" $0}' deploy/Dockerfile |
  awk -F'\t' -v last="$(grep -c '^FROM ' deploy/Dockerfile)" '$1 == last {print $2}' |
  sed -n '/apt-get install/,/rm -rf/p' | tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' |
  grep -v -E '^(apt-get|install|rm)$' | sort -u)
# Each library a binary links directly (its NEEDED entries, located by ldd) must come
# from a package the stage names; apt brings those packages' own dependencies.
: >"$work/libs"
for bin in shmpoold shmpoolctl; do
  needed=$(readelf -d "$root/usr/bin/$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  ldd "$root/usr/bin/$bin" | awk -v n="$needed" -v bin="$bin" \
    'BEGIN {split(n, a, " "); for (i in a) w[a[i]] = 1} ($1 in w) && $3 ~ /^\// {print bin, $3}' \
    >>"$work/libs"
done
# One dpkg -S for all (it is slow per call). usrmerge: dpkg may know a file under /lib
# rather than /usr/lib, so ask for both spellings of each real path.
mapfile -t paths < <(awk '{print $2}' "$work/libs" | sort -u | xargs readlink -f |
  sed 's|^/usr||' | sort -u | sed 'p; s|^|/usr|')
dpkg -S "${paths[@]}" 2>/dev/null | sed 's/:[a-z0-9]*: /: /' >"$work/owners" || true
missing=""
while read -r bin lib; do
  real=$(readlink -f "$lib")
  pkg=$(awk -F': ' -v a="$real" -v b="${real#/usr}" '$2 == a || $2 == b {print $1; exit}' \
    "$work/owners")
  [[ -n $pkg ]] || fail "$bin: $lib belongs to no Debian package"
  grep -qx "$pkg" <<<"$wanted" || missing+=" $pkg($bin: ${lib##*/})"
done <"$work/libs"
[[ -z $missing ]] || fail "deploy/Dockerfile's runtime stage lacks:$missing"
echo "deploy/check.sh: all deployment files pass"
