#!/usr/bin/env bash
# The report's ground-truth suite (internal/diagnose): a routing workload on
# a real redis-server with one cause injected per scenario, several runs
# each, and the report's first finding compared with the injected cause.
#
#   scripts/diagnose.sh          # full: both sizes of each cause, advice applied and measured
#   scripts/diagnose.sh short    # CI: each cause as an operator sees it, two runs each (~4.5 min)
#   DIAGNOSE_ONLY='hot pod|flapping' scripts/diagnose.sh full   # only the scenarios named
#
# It prints the confusion table, headed by the command and commit, ready
# for docs/report.md, and writes it to $DIAGNOSE_OUT (default
# /tmp/sfotel-diagnose.md), every run's figures beside it (.log). Needs Go,
# redis-server and, for the full form, Debian's prometheus.
set -euo pipefail
cd "$(dirname "$0")/.."
form=${1:-full}
out=${DIAGNOSE_OUT:-${TMPDIR:-/tmp}/sfotel-diagnose.md}
command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install redis-server" >&2; exit 1; }
log=${out%.md}.log
head="\`scripts/diagnose.sh $form\` at commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (with local changes)'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
table=$(mktemp)
trap 'rm -f "$table"' EXIT
# Every run's figures and messages go to the log, the table to the output.
DIAGNOSE=$form DIAGNOSE_OUT=$table REDIS_REQUIRED=1 go test -v -count=1 -timeout 60m -run TestDiagnosis ./internal/diagnose/ >"$log" 2>&1 || status=$?
grep -E '^(--- FAIL|FAIL|ok|panic)|suite_test.go:[0-9]+: .*(: verdicts \[| cut .* only|prometheus)' "$log" || true
{
  echo "$head:"
  echo
  cat "$table"
} >"$out"
cat "$out"
echo "every run's figures: $log"
exit "${status:-0}"
