#!/usr/bin/env bash
# Runs every fuzz target in the module for a bounded time each.
# Usage: scripts/fuzz.sh [duration]   (default 15s)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-15s}
found=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $target for $fuzztime"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
    found=$((found + 1))
  done
done
echo "fuzzed $found targets"
[ "$found" -gt 0 ] || { echo "no fuzz targets found"; exit 1; }
