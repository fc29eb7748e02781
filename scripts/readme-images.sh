#!/usr/bin/env bash
# readme-images.sh: draws the README's pictures of a fragmented arena, from a real daemon.
#
#   1. starts shmpoold on a private socket and shm directory, creates arena "frag";
#   2. examples/fragment_demo fills it to LIVE_MIB live, frees a random 90% and allocates a
#      tenth anew, then holds it;
#   3. writes docs/images/map-before-purge.png, docs/images/doctor.png (the text of
#      `shmpoolctl doctor frag`, drawn as an image) and docs/images/stats-before-purge.txt;
#   4. purges, then writes docs/images/map-after-purge.png and stats-after-purge.txt.
# Needs rsvg-convert (librsvg2-bin, installed by scripts/install-deps.sh) and a build.
# Environment: SHMPOOL_BUILD_DIR (default build/debug), LIVE_MIB (default 256).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${SHMPOOL_BUILD_DIR:-$here/build/debug}
live_mib=${LIVE_MIB:-256}
out=$here/docs/images
shmpoold=$build/server/shmpoold
ctl=$build/ctl/shmpoolctl
demo=$build/examples/fragment_demo
for bin in "$shmpoold" "$ctl" "$demo"; do
  [[ -x $bin ]] || { echo "readme-images.sh: $bin is missing: build first" >&2; exit 1; }
done
mkdir -p "$out"

work=$(mktemp -d /tmp/shmpool-images.XXXXXX)
shm_dir=$(mktemp -d /dev/shm/shmpool-images.XXXXXX)
export SHMPOOL_ENDPOINT=unix:$work/shmpoold.sock
daemon_pid= demo_pid=
cleanup() {
  exec 3>&- 2>/dev/null || true
  [[ -n $demo_pid ]] && wait "$demo_pid" 2>/dev/null || true
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || true
  fi
  rm -rf "$work" "$shm_dir"
}
trap cleanup EXIT

# Draws a text file as a PNG: one monospace line per line of text.
text_png() {
  local text=$1 png=$2 lines width
  lines=$(wc -l <"$text")
  width=$(awk '{ if (length($0) > w) w = length($0) } END { print w + 4 }' "$text")
  {
    printf '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d">\n' \
      $((width * 8)) $((lines * 18 + 24))
    printf '<rect width="100%%" height="100%%" fill="#1e1e1e"/>\n'
    printf '<text font-family="DejaVu Sans Mono, monospace" font-size="13" fill="#e8e8e8">\n'
    local y=22
    while IFS= read -r line; do
      line=${line//&/&amp;}
      line=${line//</&lt;}
      line=${line//>/&gt;}
      printf '<tspan x="12" y="%d" xml:space="preserve">%s</tspan>\n' "$y" "$line"
      y=$((y + 18))
    done <"$text"
    printf '</text>\n</svg>\n'
  } >"$work/text.svg"
  rsvg-convert -o "$png" "$work/text.svg"
}

"$shmpoold" --listen "$SHMPOOL_ENDPOINT" --shm-dir "$shm_dir" 2>"$work/shmpoold.log" &
daemon_pid=$!
for _ in $(seq 100); do
  "$ctl" arena list >/dev/null 2>&1 && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/shmpoold.log" >&2; exit 1; }
  sleep 0.1
done
"$ctl" arena create frag --capacity $((live_mib * 4))MiB

mkfifo "$work/hold"
SHMPOOL_ARENA=frag "$demo" "$live_mib" <"$work/hold" >"$work/demo.out" &
demo_pid=$!
exec 3>"$work/hold"
for _ in $(seq 600); do
  grep -q ready "$work/demo.out" && break
  kill -0 "$demo_pid" 2>/dev/null || { echo "fragment_demo failed" >&2; exit 1; }
  sleep 0.1
done

"$ctl" map frag --output "$out/map-before-purge.png"
"$ctl" stats frag >"$out/stats-before-purge.txt"
{
  echo "\$ shmpoolctl doctor frag"
  "$ctl" doctor frag | fold -s -w 100
} >"$work/doctor.txt" || true
text_png "$work/doctor.txt" "$out/doctor.png"
cp "$work/doctor.txt" "$out/doctor.txt"
"$ctl" purge frag
"$ctl" map frag --output "$out/map-after-purge.png"
"$ctl" stats frag >"$out/stats-after-purge.txt"

exec 3>&-
wait "$demo_pid"
demo_pid=
cat "$work/demo.out"
echo "wrote $out/{map-before-purge,doctor,map-after-purge}.png"
