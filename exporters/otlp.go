package exporters

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Protocol is an OTLP transport, spelled as OTEL_EXPORTER_OTLP_PROTOCOL
// spells it.
type Protocol string

// The OTLP transports.
const (
	ProtocolGRPC         Protocol = "grpc"
	ProtocolHTTPProtobuf Protocol = "http/protobuf"
)

// DefaultProtocol is the transport used when neither an option nor
// OTEL_EXPORTER_OTLP_PROTOCOL (or its per-signal variant) names one, as the
// OpenTelemetry specification recommends.
const DefaultProtocol = ProtocolHTTPProtobuf

// DefaultOTLPTimeout bounds one export, retries included, when neither
// WithTimeout nor OTEL_EXPORTER_OTLP_TIMEOUT (or its per-signal variant) sets
// it. The upstream default is 10 s; a collector that is down should cost a
// dropped batch quickly, not hold a flush or a shutdown for long.
const DefaultOTLPTimeout = 5 * time.Second

// Environment variables read here. The upstream exporters read the others
// (endpoint, headers, certificates, temporality) themselves.
const (
	envProtocol        = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol  = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	envMetricsProtocol = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
	envEndpoint        = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint  = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envMetricsEndpoint = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
	envTimeout         = "OTEL_EXPORTER_OTLP_TIMEOUT"
	envTracesTimeout   = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
	envMetricsTimeout  = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"
	envCompression     = "OTEL_EXPORTER_OTLP_COMPRESSION"
	envTracesCompr     = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"
	envMetricsCompr    = "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION"
	envTracesExporter  = "OTEL_TRACES_EXPORTER"
	envMetricsExporter = "OTEL_METRICS_EXPORTER"
)

// signal names the per-signal environment variables of traces or metrics.
type signal struct {
	name                                                       string // "traces" or "metrics", the HTTP path's last element
	protocolEnv, endpointEnv, timeoutEnv, kind, compressionEnv string
}

var (
	tracesSignal  = signal{"traces", envTracesProtocol, envTracesEndpoint, envTracesTimeout, envTracesExporter, envTracesCompr}
	metricsSignal = signal{"metrics", envMetricsProtocol, envMetricsEndpoint, envMetricsTimeout, envMetricsExporter, envMetricsCompr}
)

// protocolFor returns the transport for sig: the option, else the
// per-signal variable, else OTEL_EXPORTER_OTLP_PROTOCOL, else
// DefaultProtocol, in any case. An unknown option is an error; an unknown
// variable is a warning and ignored, as the specification asks.
func (c config) protocolFor(sig signal) (Protocol, error) {
	if c.protocol != "" {
		return checkProtocol(c.protocol, "WithProtocol")
	}
	for _, env := range []string{sig.protocolEnv, envProtocol} {
		v := strings.TrimSpace(os.Getenv(env))
		if v == "" {
			continue
		}
		p, err := checkProtocol(Protocol(v), env)
		if err == nil {
			return p, nil
		}
		warnEnv(env, v, "is not grpc or http/protobuf; ignored")
	}
	return DefaultProtocol, nil
}

// gzipFor reports whether sig's compression variable, else
// OTEL_EXPORTER_OTLP_COMPRESSION, says gzip, in any case. The upstream
// exporters read only a lower-case gzip and take any other value for none
// without a word; none is what they do when gzip is not passed to them.
func gzipFor(sig signal) bool {
	for _, env := range []string{sig.compressionEnv, envCompression} {
		v := strings.TrimSpace(os.Getenv(env))
		switch strings.ToLower(v) {
		case "":
		case "gzip":
			return true
		case "none":
			return false
		default:
			warnEnv(env, v, "is not gzip or none; ignored")
		}
	}
	return false
}

func checkProtocol(p Protocol, source string) (Protocol, error) {
	p = Protocol(strings.ToLower(string(p)))
	switch p {
	case ProtocolGRPC, ProtocolHTTPProtobuf:
		return p, nil
	case "http/json":
		return "", fmt.Errorf("exporters: %s: protocol %q is not supported by the Go OTLP exporters; use %q or %q", source, p, ProtocolGRPC, ProtocolHTTPProtobuf)
	}
	return "", fmt.Errorf("exporters: %s: unknown OTLP protocol %q; want %q or %q", source, p, ProtocolGRPC, ProtocolHTTPProtobuf)
}

// timeoutFor returns the timeout to pass as an option, or 0 to let the
// upstream exporter read it from the environment.
func (c config) timeoutFor(sig signal) time.Duration {
	if c.timeout > 0 {
		return c.timeout
	}
	if os.Getenv(sig.timeoutEnv) != "" || os.Getenv(envTimeout) != "" {
		return 0
	}
	return DefaultOTLPTimeout
}

// otlpTarget is a parsed WithEndpoint value.
type otlpTarget struct {
	hostPort string
	path     string // base path without a trailing slash; "" for none
	insecure bool
}

// parseEndpoint checks an endpoint given by option and decides TLS.
func parseEndpoint(endpoint string, insecure bool) (otlpTarget, error) {
	const field = "WithEndpoint"
	if strings.TrimSpace(endpoint) != endpoint || endpoint == "" {
		return otlpTarget{}, fmt.Errorf("exporters: %s %q: empty or surrounded by spaces", field, endpoint)
	}
	if !strings.Contains(endpoint, "://") {
		host, port, err := net.SplitHostPort(endpoint)
		if err != nil || host == "" || port == "" {
			return otlpTarget{}, fmt.Errorf("exporters: %s %q: want host:port or a http(s):// URL", field, endpoint)
		}
		return otlpTarget{hostPort: endpoint, insecure: insecure}, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return otlpTarget{}, fmt.Errorf("exporters: %s %q: %w", field, endpoint, err)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return otlpTarget{}, fmt.Errorf("exporters: %s %q: want scheme://host[:port][/path] with no user, query or fragment", field, endpoint)
	}
	t := otlpTarget{hostPort: u.Host, path: strings.TrimRight(u.Path, "/")}
	switch u.Scheme {
	case "https":
		if insecure {
			return otlpTarget{}, fmt.Errorf("exporters: %s %q: https:// contradicts WithInsecureTransport(true)", field, endpoint)
		}
	case "http":
		if !insecure && !isLoopback(u.Hostname()) {
			return otlpTarget{}, fmt.Errorf("exporters: %s %q: plain-text http:// to a host that is not loopback needs WithInsecureTransport(true)", field, endpoint)
		}
		t.insecure = true
	default:
		return otlpTarget{}, fmt.Errorf("exporters: %s %q: scheme must be http or https", field, endpoint)
	}
	if u.Port() == "" {
		return otlpTarget{}, fmt.Errorf("exporters: %s %q: missing port (4317 for gRPC, 4318 for HTTP)", field, endpoint)
	}
	return t, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Retry back-off: the upstream policy (exponential, on retryable codes
// only) on a scale that fits inside one export's timeout, which bounds the
// retries as a whole.
const (
	retryInitial = 250 * time.Millisecond
	retryMax     = time.Second
)

// otlpPlan is what both exporters of one signal are built from.
type otlpPlan struct {
	proto    Protocol
	target   *otlpTarget // nil: the upstream exporter reads the environment
	insecure bool
	headers  map[string]string
	timeout  time.Duration // 0: the upstream exporter reads the environment
	gzip     bool
}

// plan reads opts and the environment for sig's exporter.
func plan(opts []Option, sig signal) (otlpPlan, error) {
	c, err := newConfig(opts)
	if err != nil {
		return otlpPlan{}, err
	}
	proto, err := c.protocolFor(sig)
	if err != nil {
		return otlpPlan{}, err
	}
	p := otlpPlan{proto: proto, insecure: c.insecure, headers: c.headers, timeout: c.timeoutFor(sig), gzip: gzipFor(sig)}
	if c.endpoint != "" {
		t, err := parseEndpoint(c.endpoint, c.insecure)
		if err != nil {
			return otlpPlan{}, err
		}
		p.target, p.insecure = &t, t.insecure
	}
	return p, nil
}

// maxElapsed bounds retries by the export timeout, or by the upstream
// default timeout when the environment sets it.
func (p otlpPlan) maxElapsed() time.Duration {
	if p.timeout > 0 {
		return p.timeout
	}
	return 30 * time.Second
}

// NewOTLPTraceExporter returns an OTLP span exporter over gRPC or
// HTTP/protobuf. The standard OTEL_EXPORTER_OTLP_* and
// OTEL_EXPORTER_OTLP_TRACES_* variables configure it; opts override them.
// It takes the OTLP options (WithEndpoint, WithProtocol, ...). It does not
// dial: a collector that is down shows as failed exports, not as an error
// here.
func NewOTLPTraceExporter(ctx context.Context, opts ...Option) (sdktrace.SpanExporter, error) {
	p, err := plan(opts, tracesSignal)
	if err != nil {
		return nil, err
	}
	if p.proto == ProtocolGRPC {
		return otlptracegrpc.New(ctx, traceGRPCOptions.build(p)...)
	}
	// The upstream exporter reads the protocol variable too and would send
	// JSON for http/json, which Setup ignores: protobuf, as decided.
	return otlptracehttp.New(ctx, append(traceHTTPOptions.build(p), otlptracehttp.WithEncoding(otlptracehttp.EncodingProtobuf))...)
}

// NewOTLPMetricExporter returns an OTLP metric exporter over gRPC or
// HTTP/protobuf, for a sdkmetric.PeriodicReader. The standard
// OTEL_EXPORTER_OTLP_* and OTEL_EXPORTER_OTLP_METRICS_* variables configure
// it (temporality preference included); opts override them.
func NewOTLPMetricExporter(ctx context.Context, opts ...Option) (sdkmetric.Exporter, error) {
	p, err := plan(opts, metricsSignal)
	if err != nil {
		return nil, err
	}
	if p.proto == ProtocolGRPC {
		return otlpmetricgrpc.New(ctx, metricGRPCOptions.build(p)...)
	}
	return otlpmetrichttp.New(ctx, metricHTTPOptions.build(p)...)
}
