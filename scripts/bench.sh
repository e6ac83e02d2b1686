#!/usr/bin/env bash
# The benchmark suite behind docs/benchmarks.md.
#
# Each package's test binary is built once; then COUNT rounds run, and each
# round runs every benchmark of the suite once (-test.count 1). So the
# variants of a benchmark alternate through the run and share whatever else
# the machine was doing; `go test -count N` would instead run the N counts
# of one variant back to back. Each round also runs the redis-benchmark
# anchors. benchstat then compares the variants of each benchmark: the
# first variant (the baseline) against the others.
#
#   bash scripts/bench.sh                          # COUNT=6 BENCHTIME=1s OUT=bench
#   COUNT=10 BENCHTIME=2s bash scripts/bench.sh
#   SUITES='routing|throughput' bash scripts/bench.sh   # only the suites whose name matches
#   ANCHORS=0 bash scripts/bench.sh                # without redis-benchmark
#
# Needs a Redis on $REDIS_ADDR or 127.0.0.1:6379, redis-server and
# redis-benchmark on PATH (Debian/Ubuntu: redis-server, redis-tools) and
# benchstat (go install golang.org/x/perf/cmd/benchstat@latest).
set -euo pipefail

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
OUT=${OUT:-bench}
SUITES=${SUITES:-.}
ANCHORS=${ANCHORS:-1}
ADDR=${REDIS_ADDR:-127.0.0.1:6379}
BENCHSTAT=${BENCHSTAT:-$(command -v benchstat || echo "$(go env GOPATH)/bin/benchstat")}

root=$(cd "$(dirname "$0")/.." && pwd)

# name; package; -test.bench pattern; -test.benchtime; benchstat column ("" = none)
all_suites=(
	"op-telemetry;otelexec;^BenchmarkOpTelemetry\$;$BENCHTIME;/impl"
	"sdk-span;otelexec;^BenchmarkSDKSpan\$;$BENCHTIME;/attrs"
	"sampling;otelexec;^BenchmarkSampling\$;$BENCHTIME;/ratio"
	"instrumentation-cpu;otelexec;^BenchmarkInstrumentationCPU\$;$BENCHTIME;/impl"
	"throughput50;otelexec;^BenchmarkThroughput50\$;$BENCHTIME;/impl"
	"routing;otelexec;^BenchmarkRoutingPath\$;$BENCHTIME;/impl"
	"routing-mix;otelexec;^BenchmarkRoutingMix\$;$BENCHTIME;/impl"
	"batch;otelexec;^BenchmarkBatchGetLinkedPod\$;3x;"
	"otelexec-ops;otelexec;^Benchmark(GetLinkedPod|SetLinkedPod)\$;$BENCHTIME;/provider"
	"link-read;otelexec;^BenchmarkLinkRead\$;$BENCHTIME;/read"
	"script-call;otelexec;^BenchmarkScriptCall\$;$BENCHTIME;/cmd"
	"state-cache-services;otelexec;^BenchmarkStateCacheServices\$;$BENCHTIME;/cache"
	"state-cache-choose;otelexec;^BenchmarkStateCacheChoose\$;$BENCHTIME;/impl"
	"state-cache-compute;otelexec;^BenchmarkStateCacheCompute\$;$BENCHTIME;/cache"
	"redisinstr-command;redisinstr;^BenchmarkCommand\$;$BENCHTIME;/impl"
	"redisinstr-collect;redisinstr;^BenchmarkCollect\$;$BENCHTIME;"
	"exporters;exporters;^Benchmark(SpanEnd|Scrape|ProtectHandler)\$;$BENCHTIME;"
	"report-snapshot;report;^BenchmarkSnapshot(ExemplarsOff)?\$;200x;"
	"otlp-collector;internal/reliability;^BenchmarkOTLPCollector\$;2s;/collector"
)
suites=()
for s in "${all_suites[@]}"; do
	[[ ${s%%;*} =~ $SUITES ]] && suites+=("$s")
done
[[ ${#suites[@]} -gt 0 ]] || { echo "no suite matches SUITES=$SUITES" >&2; exit 2; }

mkdir -p "$OUT"
out=$(cd "$OUT" && pwd)
declare -A built
for s in "${suites[@]}"; do
	IFS=';' read -r name pkg _ _ _ <<<"$s"
	bin=${pkg//\//_}
	if [[ -z ${built[$bin]:-} ]]; then
		(cd "$root" && go test -c -o "$out/$bin.test" "./$pkg")
		built[$bin]=1
	fi
	: >"$out/$name.txt"
done
[[ $ANCHORS == 1 ]] && : >"$out/anchors.txt"

# What docs/benchmarks.md needs beside each table: when, on what, at which
# commit, and how busy the machine was (at the start and at the end).
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "commit: $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "go: $(go version)"
	echo "redis: $(redis-cli -h "${ADDR%:*}" -p "${ADDR##*:}" info server 2>/dev/null | tr -d '\r' | awk -F: '$1=="redis_version"{print $2}')"
	echo "cpu: $(nproc) × $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
	echo "kernel: $(uname -r)"
	echo "runs: COUNT=$COUNT BENCHTIME=$BENCHTIME SUITES=$SUITES"
	echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/run.txt"

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
	echo "round $round/$COUNT $(date -u +%H:%M:%S)" >&2
	for s in "${suites[@]}"; do
		IFS=';' read -r name pkg pattern benchtime _ <<<"$s"
		(cd "$root/$pkg" && "$out/${pkg//\//_}.test" -test.run '^$' -test.bench "$pattern" \
			-test.benchmem -test.benchtime "$benchtime" -test.count 1) >>"$out/$name.txt"
	done
	if [[ $ANCHORS == 1 ]]; then
		anchor "redis-benchmark-c50" -c 50 -n 100000 -r 100000
		anchor "redis-benchmark-c50-P16" -c 50 -n 1000000 -r 100000 -P 16
	fi
done
[[ $ANCHORS == 1 ]] && redis-cli -h "$host" -p "$port" del sfbench:anchor >/dev/null
{
	echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "finished: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
} >>"$out/run.txt"

for s in "${suites[@]}"; do
	IFS=';' read -r name _ _ _ col <<<"$s"
	# redisinstr's variants are plain sub-benchmark names; name them impl=
	# so benchstat can put them in columns like the others.
	sed -E 's#^(BenchmarkCommand)/([a-z+-]+)#\1/impl=\2#' "$out/$name.txt" >"$out/$name.norm.txt"
	if [[ -n $col ]]; then
		"$BENCHSTAT" -col "$col" "$out/$name.norm.txt" >"$out/$name.stat"
	else
		"$BENCHSTAT" "$out/$name.norm.txt" >"$out/$name.stat"
	fi
	echo "== $name" && cat "$out/$name.stat"
done
echo "== run" && cat "$out/run.txt"
if [[ $ANCHORS == 1 ]]; then
	echo "== anchors (requests/s, one line per round)" && sort "$out/anchors.txt"
fi
