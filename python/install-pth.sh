#!/usr/bin/env bash
# Makes the installed Python package importable by each interpreter given: writes
# shmpool.pth, naming PREFIX/<libdir>/shmpool/python (where cmake --install put the
# package), into the interpreter's purelib directory (site-packages; /usr/local/lib/
# python3.X/dist-packages for Debian's). One copy of the package serves every interpreter;
# removing the .pth files and the prefix's files uninstalls it.
# Usage: install-pth.sh PACKAGE_DIR PYTHON...
set -euo pipefail
pkgdir=$1
shift
[[ -f $pkgdir/shmpool/__init__.py ]] || { echo "install-pth: no package in $pkgdir" >&2; exit 1; }
for py in "$@"; do
  site=$("$py" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
  mkdir -p "$site"
  echo "$pkgdir" >"$site/shmpool.pth"
  echo "install-pth: $py imports shmpool from $pkgdir ($site/shmpool.pth)"
done
