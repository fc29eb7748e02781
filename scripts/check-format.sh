#!/usr/bin/env bash
# Fails when clang-format (the root .clang-format) would change any C or C++ file.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.h' '*.cc' '*.c' '*.cpp')
[ -n "$files" ] || exit 0
# shellcheck disable=SC2086
if ! clang-format --dry-run --Werror $files; then
  echo "check-format: run clang-format -i on the files above" >&2
  exit 1
fi
echo "check-format: ok"
