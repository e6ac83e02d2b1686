#!/usr/bin/env bash
# tools.sh makes sure the external programs the e2e tests run are present:
# Jaeger and a minimal OpenTelemetry Collector (built from the Go module proxy
# into a cache outside the repo, keyed by version) and Prometheus (Debian
# package). It is idempotent and takes well under a second when everything is
# cached, so CI runs it every time.
#
# Prints nothing on success except what it builds or installs. The cache
# directory is ${SFOTEL_TOOLS_DIR:-$HOME/.cache/sfotel-tools}; the binaries are
#   $dir/jaeger-v$JAEGER_VERSION/jaeger
#   $dir/otelcol-v$OTELCOL_VERSION/otelcol-sfotel
# `scripts/tools.sh --print-env` prints their paths as shell assignments.
set -euo pipefail

JAEGER_VERSION=1.76.0
OTELCOL_VERSION=0.165.0

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools_dir=${SFOTEL_TOOLS_DIR:-$HOME/.cache/sfotel-tools}
jaeger_bin=$tools_dir/jaeger-v$JAEGER_VERSION/jaeger
# The manifest's hash is part of the key so changing the component list rebuilds.
manifest=$repo/examples/collector/builder-config.yaml
manifest_sum=$(sha256sum "$manifest" | cut -c1-12)
otelcol_bin=$tools_dir/otelcol-v$OTELCOL_VERSION-$manifest_sum/otelcol-sfotel

if [[ ${1:-} == --print-env ]]; then
	printf 'JAEGER_BIN=%q\nOTELCOL_BIN=%q\n' "$jaeger_bin" "$otelcol_bin"
	exit 0
fi

log() { printf 'tools.sh: %s\n' "$*" >&2; }

mkdir -p "$tools_dir"
# Concurrent runs (a developer and CI on the same machine) must not build
# into the same place at once; the second waits and then finds the cache warm.
exec 9>"$tools_dir/.lock"
flock 9

# Builds happen in throwaway modules so the repo's go.mod never sees the
# tools' dependencies. GOFLAGS from the caller (e.g. -mod=vendor) must not leak in.
build_jaeger() {
	[[ -x $jaeger_bin ]] && return 0
	log "building Jaeger v$JAEGER_VERSION into $jaeger_bin (several minutes cold)"
	local work
	work=$(mktemp -d)
	(
		cd "$work"
		export GOFLAGS=-mod=mod GOWORK=off
		go mod init tools >/dev/null 2>&1
		# `go install pkg@version` refuses Jaeger because its go.mod has a replace
		# directive; as a tool dependency of a scratch module it builds fine.
		go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@v$JAEGER_VERSION"
		go build -trimpath -o "$work/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger
	)
	mkdir -p "$(dirname "$jaeger_bin")"
	mv "$work/jaeger" "$jaeger_bin.tmp" && mv "$jaeger_bin.tmp" "$jaeger_bin"
	rm -rf "$work"
}

build_otelcol() {
	[[ -x $otelcol_bin ]] && return 0
	log "building OpenTelemetry Collector v$OTELCOL_VERSION into $otelcol_bin (several minutes cold)"
	local work
	work=$(mktemp -d)
	cp "$manifest" "$work/builder-config.yaml"
	(
		cd "$work"
		export GOFLAGS=-mod=mod GOWORK=off
		GOBIN=$work go install "go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION"
		"$work/builder" --config="$work/builder-config.yaml"
	)
	mkdir -p "$(dirname "$otelcol_bin")"
	mv "$work/_build/otelcol-sfotel" "$otelcol_bin.tmp" && mv "$otelcol_bin.tmp" "$otelcol_bin"
	rm -rf "$work"
}

install_prometheus() {
	command -v prometheus >/dev/null && command -v promtool >/dev/null && return 0
	log "installing Prometheus from Debian"
	local sudo=()
	[[ $(id -u) -ne 0 ]] && sudo=(sudo)
	export DEBIAN_FRONTEND=noninteractive
	if ! "${sudo[@]}" apt-get install -y --no-install-recommends prometheus; then
		"${sudo[@]}" apt-get update
		"${sudo[@]}" apt-get install -y --no-install-recommends prometheus
	fi
}

install_prometheus
build_otelcol
build_jaeger
