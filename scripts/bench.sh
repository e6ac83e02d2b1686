#!/usr/bin/env bash
# The benchmark suite behind docs/benchmarks.md.
#
# Each package's test binary is built once; then COUNT rounds run, and each
# round runs every benchmark of the suite once (-test.count 1). So the
# variants of a benchmark alternate through the run and share whatever else
# the machine was doing; `go test -count N` would instead run the N counts
# of one variant back to back. Each round also runs the redis-benchmark
# anchors. benchstat then compares the variants of each benchmark, the
# first variant (the baseline) against the others.
#
#   bash scripts/bench.sh                  # COUNT=6 BENCHTIME=1s OUT=bench
#   COUNT=10 BENCHTIME=2s bash scripts/bench.sh
#
# Needs a Redis on $REDIS_ADDR or 127.0.0.1:6379, redis-benchmark on PATH
# (Debian/Ubuntu: redis-tools) and benchstat
# (go install golang.org/x/perf/cmd/benchstat@latest).
set -euo pipefail

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
OUT=${OUT:-bench}
ADDR=${REDIS_ADDR:-127.0.0.1:6379}
BENCHSTAT=${BENCHSTAT:-$(command -v benchstat || echo "$(go env GOPATH)/bin/benchstat")}

root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"
out=$(cd "$OUT" && pwd)

# suite: name, package, -test.bench pattern, -test.benchtime
suites=(
	"op-telemetry|otelexec|^BenchmarkOpTelemetry$|$BENCHTIME"
	"instrumentation-cpu|otelexec|^BenchmarkInstrumentationCPU$|$BENCHTIME"
	"throughput50|otelexec|^BenchmarkThroughput50$|$BENCHTIME"
	"routing|otelexec|^BenchmarkRoutingPath$|$BENCHTIME"
	"redisinstr-command|redisinstr|^BenchmarkCommand$|$BENCHTIME"
)

for pkg in otelexec redisinstr; do
	(cd "$root" && go test -c -o "$out/$pkg.test" "./$pkg")
done
for s in "${suites[@]}"; do
	IFS='|' read -r name _ _ _ <<<"$s"
	: >"$out/$name.txt"
done
: >"$out/anchors.txt"

host=${ADDR%:*}
port=${ADDR##*:}
anchor() { # label, redis-benchmark arguments...
	local label=$1
	shift
	local rps
	rps=$(redis-benchmark -h "$host" -p "$port" --csv "$@" hset sfbench:anchor __rand_int__ v |
		awk -F'","' 'NR==2 {print $2}')
	echo "$label $rps" >>"$out/anchors.txt"
}

for round in $(seq "$COUNT"); do
	echo "round $round/$COUNT" >&2
	for s in "${suites[@]}"; do
		IFS='|' read -r name pkg pattern benchtime <<<"$s"
		(cd "$root/$pkg" && "$out/$pkg.test" -test.run '^$' -test.bench "$pattern" \
			-test.benchmem -test.benchtime "$benchtime" -test.count 1) >>"$out/$name.txt"
	done
	anchor "redis-benchmark-c50" -c 50 -n 100000 -r 100000
	anchor "redis-benchmark-c50-P16" -c 50 -n 1000000 -r 100000 -P 16
done
redis-cli -h "$host" -p "$port" del sfbench:anchor >/dev/null

for s in "${suites[@]}"; do
	IFS='|' read -r name _ _ _ <<<"$s"
	# redisinstr's variants are plain sub-benchmark names; name them impl=
	# so benchstat can put them in columns like the others.
	sed -E 's#^(BenchmarkCommand)/([a-z+-]+)#\1/impl=\2#' "$out/$name.txt" >"$out/$name.impl.txt"
	"$BENCHSTAT" -col /impl "$out/$name.impl.txt" >"$out/$name.stat"
	echo "== $name" && cat "$out/$name.stat"
done
echo "== anchors (requests/s, one line per round)" && sort "$out/anchors.txt"
