#!/usr/bin/env bash
# The ABI of libshmpool.so.1, from the built library: its soname is libshmpool.so.1; every
# function of SYMBOLS (client/libshmpool.symbols) is exported, defined, as a global
# function of version node SHMPOOL_1; nothing else is exported but other shmpool_*
# functions of SHMPOOL_1 (new ones, reported: add them to SYMBOLS) and the node itself: no
# C++ symbol, ours or of a library linked in. The signatures are pinned by
# abi_signatures.c, which the build compiles.
# Usage: abi_check.sh LIBRARY SYMBOLS
set -euo pipefail
lib=$1 symbols=$2
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == libshmpool.so.1 ]] || fail "$lib: soname '$soname', not libshmpool.so.1"

# readelf --dyn-syms -W: Num: Value Size Type Bind Vis Ndx Name; Ndx UND is undefined.
exported=$(readelf --dyn-syms -W "$lib" | awk '$7 != "UND" && $8 != "" && NR > 3 {
  print $4, $5, $6, $8 }')
bad=$(awk '!($1 == "FUNC" && $2 == "GLOBAL" && $3 == "DEFAULT" &&
  $4 ~ /^shmpool_[a-z0-9_]+@@SHMPOOL_1$/) && !($1 == "OBJECT" && $4 == "SHMPOOL_1")' \
  <<<"$exported")
[[ -z $bad ]] || fail "$lib exports what is not a shmpool_* function of SHMPOOL_1:
$bad"

have=$(awk '$1 == "FUNC" { sub(/@@SHMPOOL_1$/, "", $4); print $4 }' <<<"$exported" | sort)
want=$(grep -v '^#' "$symbols" | sort)
missing=$(comm -13 <(echo "$have") <(echo "$want"))
[[ -z $missing ]] || fail "$lib lacks functions of the ABI ($symbols):
$missing"
added=$(comm -23 <(echo "$have") <(echo "$want"))
[[ -z $added ]] || echo "new functions, not yet in $symbols (add them):
$added"
echo "PASS: $(wc -l <<<"$have") functions of SHMPOOL_1, soname $soname"
