#!/usr/bin/env bash
# The test command of README.md and CI.
#
# 1. Every test under the race detector.
# 2. The tests that measure allocations or run a million operations again
#    without it: -race changes allocation counts and slows each call about
#    tenfold, so those tests skip (or shrink) under -race and are only
#    enforced here.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -race "$@" ./...
# The nested modules (the Kratos v2 and v3 integrations and the example)
# have go.mods of their own, which ./... does not enter.
for m in kratos kratos3 examples/kratos; do (cd "$m" && go test -race "$@" ./...); done
go test -run 'Alloc|NoopCosts|Cardinality' "$@" ./otelexec/... ./redisinstr/... ./internal/reliability/...
