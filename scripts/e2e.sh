#!/usr/bin/env bash
# e2e.sh runs the end-to-end tests: two quickstarts (one service, two
# instances) against the real Redis, sending OTLP to a real OpenTelemetry
# Collector that forwards traces to a real Jaeger and exposes the metrics for
# Prometheus, which also scrapes both quickstarts' /metrics. Everything
# listens on free 127.0.0.1 ports and is stopped (by PID) when the script
# exits, whatever the outcome. Then `go test -tags e2e ./e2e/...` checks what
# each of them saw.
#
# Environment: REDIS_ADDR (default 127.0.0.1:6379); SFOTEL_E2E_KEEP=1 keeps
# the work directory (logs, configs, reports) for a look afterwards.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

log() { printf 'e2e: %s\n' "$*" >&2; }

bash scripts/tools.sh
eval "$(bash scripts/tools.sh --print-env)"

redis_addr=${REDIS_ADDR:-127.0.0.1:6379}
service=sfotel-quickstart-e2e
duration=8s

work=$(mktemp -d "${TMPDIR:-/tmp}/sfotel-e2e.XXXXXX")
pids=()

# stop sends SIGTERM to everything started here, waits up to 10 s, then
# SIGKILLs what is left. Only our own PIDs, never a name pattern.
stop() {
	local pid
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for _ in $(seq 100); do
		local alive=0
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		((alive)) || break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	pids=()
}

on_exit() {
	local rc=$?
	stop
	if ((rc != 0)); then
		log "FAILED (exit $rc); last lines of each log in $work:"
		local f
		for f in "$work"/*.log; do
			[[ -f $f ]] || continue
			printf '\n--- %s\n' "$f" >&2
			tail -n 25 "$f" >&2
		done
	fi
	if [[ ${SFOTEL_E2E_KEEP:-} == 1 ]]; then
		log "kept $work"
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port prints a loopback port that nothing listens on and that this
# script has not handed out yet. A connect to a free port is refused at once.
# Ports come from below the kernel's ephemeral range: a port in that range
# may be the local end of some outgoing connection, which a connect does
# not see but which makes bind fail.
taken=" "
ephemeral_low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
free_port() {
	local port
	for _ in $(seq 200); do
		port=$((15000 + RANDOM % (ephemeral_low - 15000)))
		[[ $taken == *" $port "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			taken+="$port "
			echo "$port"
			return 0
		fi
	done
	log "no free port found"
	return 1
}

# http_ok reports whether GET http://127.0.0.1:port/path answers 200, with
# bash alone (a fresh machine may have no curl).
http_ok() {
	local port=$1 path=$2
	(
		exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
		printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3
		read -r -t 5 status <&3 || exit 1
		[[ $status == *" 200 "* ]]
	) 2>/dev/null
}

# wait_http waits until 127.0.0.1:port/path answers 200, failing early if
# pid died.
wait_http() {
	local name=$1 pid=$2 port=$3 path=$4 timeout=${5:-60}
	local deadline=$((SECONDS + timeout))
	until http_ok "$port" "$path"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "$name exited before 127.0.0.1:$port$path answered"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			log "$name: 127.0.0.1:$port$path did not answer within ${timeout}s"
			return 1
		fi
		sleep 0.2
	done
}

if command -v redis-cli >/dev/null && ! redis-cli -h "${redis_addr%:*}" -p "${redis_addr##*:}" ping >/dev/null 2>&1; then
	log "no Redis answers at $redis_addr (set REDIS_ADDR or start redis-server)"
	exit 1
fi

quickstart_port=$(free_port)
quickstart_port_2=$(free_port)
prometheus_port=$(free_port)
otelcol_otlp_port=$(free_port)
otelcol_otlp_http_port=$(free_port)
otelcol_prom_port=$(free_port)
jaeger_otlp_port=$(free_port)
jaeger_http_port=$(free_port)
jaeger_grpc_port=$(free_port)

log "building the quickstart"
go build -o "$work/quickstart" ./examples/quickstart

log "starting Jaeger (query http://127.0.0.1:$jaeger_http_port, OTLP 127.0.0.1:$jaeger_otlp_port)"
JAEGER_LISTEN_HOST=127.0.0.1 \
	JAEGER_OTLP_GRPC_ENDPOINT=127.0.0.1:$jaeger_otlp_port \
	JAEGER_QUERY_HTTP_ENDPOINT=127.0.0.1:$jaeger_http_port \
	JAEGER_QUERY_GRPC_ENDPOINT=127.0.0.1:$jaeger_grpc_port \
	"$JAEGER_BIN" --config="$repo/examples/collector/jaeger.yaml" \
	--set=extensions.jaeger_query.enable_tracing=false \
	--set=service.telemetry.metrics.level=none \
	>"$work/jaeger.log" 2>&1 &
pids+=($!)
jaeger_pid=$!

log "starting the OpenTelemetry Collector (OTLP gRPC 127.0.0.1:$otelcol_otlp_port, HTTP 127.0.0.1:$otelcol_otlp_http_port, Prometheus exporter 127.0.0.1:$otelcol_prom_port)"
OTELCOL_OTLP_GRPC_ENDPOINT=127.0.0.1:$otelcol_otlp_port \
	OTELCOL_OTLP_HTTP_ENDPOINT=127.0.0.1:$otelcol_otlp_http_port \
	OTELCOL_PROMETHEUS_ENDPOINT=127.0.0.1:$otelcol_prom_port \
	JAEGER_OTLP_GRPC_ENDPOINT=127.0.0.1:$jaeger_otlp_port \
	"$OTELCOL_BIN" --config="$repo/examples/collector/otelcol.yaml" \
	>"$work/otelcol.log" 2>&1 &
pids+=($!)
otelcol_pid=$!

log "starting Prometheus (http://127.0.0.1:$prometheus_port, scrape interval 1s)"
# The repo's scrape config, moved to this run's ports and a 1 s interval;
# the quickstart job scrapes both quickstarts, as two instances.
sed -e "s/\"127\.0\.0\.1:9464\"/\"127.0.0.1:$quickstart_port\", \"127.0.0.1:$quickstart_port_2\"/" \
	-e "s/127\.0\.0\.1:8889/127.0.0.1:$otelcol_prom_port/" \
	-e "s/scrape_interval: 5s/scrape_interval: 1s/" \
	-e "s/evaluation_interval: 5s/evaluation_interval: 1s/" \
	-e "s|\.\./\.\./deploy/prometheus/rules\.yml|$repo/deploy/prometheus/rules.yml|" \
	examples/collector/prometheus.yml >"$work/prometheus.yml"
promtool check config "$work/prometheus.yml" >"$work/promtool.log" 2>&1
# Exemplar storage on, as examples/collector/README.md says: the tests follow
# exemplars from the latency buckets to their traces in Jaeger.
prometheus --config.file="$work/prometheus.yml" \
	--enable-feature=exemplar-storage \
	--web.listen-address="127.0.0.1:$prometheus_port" \
	--storage.tsdb.path="$work/tsdb" \
	>"$work/prometheus.log" 2>&1 &
pids+=($!)
prometheus_pid=$!

wait_http Jaeger "$jaeger_pid" "$jaeger_http_port" /api/services
wait_http "the collector" "$otelcol_pid" "$otelcol_prom_port" /metrics
wait_http Prometheus "$prometheus_pid" "$prometheus_port" /-/ready

# Two quickstarts run side by side as one service (same OTEL_SERVICE_NAME),
# as a fleet of routers would: each on its own port with its own report,
# scraped by the same Prometheus job as two instances, each sending OTLP
# under its own service.instance.id. Each runs for $duration, writes its
# final JSON report, and then keeps serving its (now frozen) /metrics and
# exporting over OTLP until it is told to stop: every backend then converges
# on exactly the reports' counts. OTLP goes over http/protobuf, the default
# protocol. Sampling 5% of traces keeps Jaeger's load modest; metrics see
# every call.
# start_quickstart N PORT REPORT starts quickstart number N.
start_quickstart() {
	local n=$1 port=$2 out=$3
	OTEL_SERVICE_NAME=$service \
		OTEL_METRIC_EXPORT_INTERVAL=1000 \
		OTEL_BSP_SCHEDULE_DELAY=500 \
		OTEL_TRACES_SAMPLER=parentbased_traceidratio \
		OTEL_TRACES_SAMPLER_ARG=0.05 \
		"$work/quickstart" \
		-redis "$redis_addr" \
		-duration "$duration" -linger 10m \
		-workers 4 -users 500 -pods 8 \
		-listen "127.0.0.1:$port" \
		-otlp "http://127.0.0.1:$otelcol_otlp_http_port" \
		-command-spans \
		-report json -report-out "$out" \
		>"$work/quickstart-$n.log" 2>&1 &
	pids+=($!)
}

log "running two quickstarts for $duration against Redis at $redis_addr"
report=$work/report.json
report_2=$work/report-2.json
start_quickstart 1 "$quickstart_port" "$report"
quickstart_pid=$!
start_quickstart 2 "$quickstart_port_2" "$report_2"
quickstart_pid_2=$!

# wait_report waits for quickstart N's report file.
wait_report() {
	local n=$1 pid=$2 file=$3
	local deadline=$((SECONDS + 120))
	until [[ -s $file ]]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "quickstart $n exited before writing its report"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			log "no report from quickstart $n within 120s"
			return 1
		fi
		sleep 0.5
	done
}
wait_report 1 "$quickstart_pid" "$report"
wait_report 2 "$quickstart_pid_2" "$report_2"
cat "$work/quickstart-1.log" >&2

log "checking Prometheus, the collector and Jaeger"
go vet -tags e2e ./e2e/
SFOTEL_E2E_REPORT=$report \
	SFOTEL_E2E_REPORT_2=$report_2 \
	SFOTEL_E2E_SERVICE=$service \
	SFOTEL_E2E_QUICKSTART_URL=http://127.0.0.1:$quickstart_port \
	SFOTEL_E2E_QUICKSTART_URL_2=http://127.0.0.1:$quickstart_port_2 \
	SFOTEL_E2E_PROMETHEUS_URL=http://127.0.0.1:$prometheus_port \
	SFOTEL_E2E_OTELCOL_METRICS_URL=http://127.0.0.1:$otelcol_prom_port/metrics \
	SFOTEL_E2E_JAEGER_URL=http://127.0.0.1:$jaeger_http_port \
	SFOTEL_E2E_COMMAND_SPANS=1 \
	go test -tags e2e -count=1 -v ./e2e/...

# A clean shutdown on SIGTERM is part of the contract: exit status 0, which
# the quickstart also gives only if no call failed and no lookup disagreed.
kill -TERM "$quickstart_pid" "$quickstart_pid_2"
for n in 1 2; do
	pid=$quickstart_pid
	((n == 2)) && pid=$quickstart_pid_2
	status=0
	wait "$pid" || status=$?
	if ((status != 0)); then
		log "quickstart $n exited with status $status after SIGTERM (its log is below)"
		exit 1
	fi
done
log "both quickstarts exited 0 on SIGTERM"
log "passed"
