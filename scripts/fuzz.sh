#!/usr/bin/env bash
# Runs every fuzz target in the module for a bounded budget each.
# Usage: scripts/fuzz.sh [budget [redis-budget]]   (-fuzztime values; default 200000x and 5000x)
#
# The default is a count of executions, not a duration: with a duration, Go
# 1.26's fuzz coordinator can report "context deadline exceeded" and fail a
# target when the deadline lands while a worker is busy (go.dev/issue/75804,
# fixed in Go 1.27), with no failing input. A count has no deadline to race.
# 200000 executions take 10-20 s per target on two cores.
#
# The targets in redis_targets talk to the test Redis (127.0.0.1:6379) on
# every execution, a few hundred executions a second: they run
# redis_fuzztime executions each (second argument, default 5000x).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-200000x}
redis_fuzztime=${2:-5000x}
redis_targets="FuzzStateCacheMaxBytes"
found=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    budget=$fuzztime
    case " $redis_targets " in *" $target "*) budget=$redis_fuzztime ;; esac
    echo "fuzz $pkg $target for $budget"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$budget" "$pkg"
    found=$((found + 1))
  done
done
echo "fuzzed $found targets"
[ "$found" -gt 0 ] || { echo "no fuzz targets found"; exit 1; }
