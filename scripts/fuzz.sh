#!/usr/bin/env bash
# Runs every fuzz target in the module for a bounded budget each.
# Usage: scripts/fuzz.sh [budget]   (a -fuzztime value; default 200000x)
#
# The default is a count of executions, not a duration: with a duration, Go
# 1.26's fuzz coordinator can report "context deadline exceeded" and fail a
# target when the deadline lands while a worker is busy (go.dev/issue/75804,
# fixed in Go 1.27), with no failing input. A count has no deadline to race.
# 200000 executions take 10-20 s per target on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-200000x}
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
