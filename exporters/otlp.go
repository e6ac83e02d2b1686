package exporters

import (
	"cmp"
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

// DefaultProtocol is the transport when neither WithProtocol nor
// OTEL_EXPORTER_OTLP_(TRACES_|METRICS_)PROTOCOL names one, as recommended.
const DefaultProtocol = ProtocolHTTPProtobuf

// DefaultOTLPTimeout bounds one export, retries included, unless WithTimeout
// or OTEL_EXPORTER_OTLP_(TRACES_|METRICS_)TIMEOUT does: shorter than the
// upstream 10 s, so a collector that is down costs a dropped batch quickly.
const DefaultOTLPTimeout = 5 * time.Second

// signal is "TRACES" or "METRICS", as the variables spell it.
type signal string

const (
	tracesSignal  signal = "TRACES"
	metricsSignal signal = "METRICS"
)

// otlpEnv is the variable for setting v of sig: the per-signal one first,
// then the generic one (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, then
// OTEL_EXPORTER_OTLP_PROTOCOL). Setup reads the protocol and compression
// itself, in any case (the upstream exporters read them case-sensitively,
// or not at all); the upstream exporters read the others.
func (sig signal) otlpEnv(v string) []string {
	return []string{"OTEL_EXPORTER_OTLP_" + string(sig) + "_" + v, "OTEL_EXPORTER_OTLP_" + v}
}

// exporterEnv is OTEL_TRACES_EXPORTER or OTEL_METRICS_EXPORTER.
func (sig signal) exporterEnv() string { return "OTEL_" + string(sig) + "_EXPORTER" }

// isSet reports whether either of sig's variables for v is set.
func (sig signal) isSet(v string) bool {
	env := sig.otlpEnv(v)
	return os.Getenv(env[0]) != "" || os.Getenv(env[1]) != ""
}

// protocolFor returns the transport for sig: WithProtocol's, else the
// variables', else DefaultProtocol.
func (c config) protocolFor(sig signal) Protocol {
	if c.protocol != "" {
		return c.protocol
	}
	known := []string{string(ProtocolGRPC), string(ProtocolHTTPProtobuf)}
	return Protocol(cmp.Or(envChoice(known, sig.otlpEnv("PROTOCOL")...), string(DefaultProtocol)))
}

// timeoutFor returns the export timeout to pass, or 0 to let the upstream
// exporter read the variable.
func (c config) timeoutFor(sig signal) time.Duration {
	if c.timeout == 0 && sig.isSet("TIMEOUT") {
		return 0
	}
	return cmp.Or(c.timeout, DefaultOTLPTimeout)
}

// parseEndpoint checks WithEndpoint's value and returns it as a URL
// without a trailing slash, whose scheme says whether TLS is used.
func parseEndpoint(endpoint string, insecure bool) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("exporters: WithEndpoint %q: "+format, append([]any{endpoint}, args...)...)
	}
	if strings.TrimSpace(endpoint) != endpoint || endpoint == "" {
		return bad("empty or surrounded by spaces")
	}
	if !strings.Contains(endpoint, "://") {
		if host, port, err := net.SplitHostPort(endpoint); err != nil || host == "" || port == "" {
			return bad("want host:port or a http(s):// URL")
		}
		if insecure {
			return "http://" + endpoint, nil
		}
		return "https://" + endpoint, nil
	}
	u, err := url.Parse(endpoint)
	switch {
	case err != nil:
		return bad("%w", err)
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return bad("want scheme://host[:port][/path] with no user, query or fragment")
	case u.Scheme == "https" && insecure:
		return bad("https:// contradicts WithInsecureTransport(true)")
	case u.Scheme == "http" && !insecure && !isLoopback(u.Hostname()):
		return bad("plain-text http:// to a host that is not loopback needs WithInsecureTransport(true)")
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("scheme must be http or https")
	case u.Port() == "":
		return bad("missing port (4317 for gRPC, 4318 for HTTP)")
	}
	return strings.TrimRight(endpoint, "/"), nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return strings.EqualFold(host, "localhost") || ip != nil && ip.IsLoopback()
}

// otlpOptions holds one upstream exporter package's option constructors:
// the four packages have the same options under different types.
type otlpOptions[O any, R retryConfig] struct {
	retry          func(R) O
	endpointURL    func(string) O
	insecure, gzip func() O
	headers        func(map[string]string) O
	timeout        func(time.Duration) O
}

// retryConfig is every upstream RetryConfig.
type retryConfig interface {
	~struct {
		Enabled                                      bool
		InitialInterval, MaxInterval, MaxElapsedTime time.Duration
	}
}

// build lists the options for sig's exporter: retries on the upstream
// policy at a scale that fits in one export's timeout, which bounds them as
// a whole, and the rest only where the configuration sets them, so the
// upstream package reads the variables for the others.
func (b otlpOptions[O, R]) build(c config, sig signal) []O {
	timeout := c.timeoutFor(sig)
	o := []O{b.retry(R{true, 250 * time.Millisecond, time.Second, cmp.Or(timeout, 30*time.Second)})}
	if c.endpoint != "" { // its scheme sets TLS
		o = append(o, b.endpointURL(c.endpoint+"/v1/"+strings.ToLower(string(sig))))
	} else if c.insecure {
		o = append(o, b.insecure())
	}
	if c.headers != nil {
		o = append(o, b.headers(c.headers))
	}
	if timeout > 0 {
		o = append(o, b.timeout(timeout))
	}
	if envChoice([]string{"gzip", "none"}, sig.otlpEnv("COMPRESSION")...) == "gzip" {
		o = append(o, b.gzip())
	}
	return o
}

var (
	traceGRPC = otlpOptions[otlptracegrpc.Option, otlptracegrpc.RetryConfig]{
		otlptracegrpc.WithRetry, otlptracegrpc.WithEndpointURL, otlptracegrpc.WithInsecure,
		func() otlptracegrpc.Option { return otlptracegrpc.WithCompressor("gzip") },
		otlptracegrpc.WithHeaders, otlptracegrpc.WithTimeout,
	}
	traceHTTP = otlpOptions[otlptracehttp.Option, otlptracehttp.RetryConfig]{
		otlptracehttp.WithRetry, otlptracehttp.WithEndpointURL, otlptracehttp.WithInsecure,
		func() otlptracehttp.Option { return otlptracehttp.WithCompression(otlptracehttp.GzipCompression) },
		otlptracehttp.WithHeaders, otlptracehttp.WithTimeout,
	}
	metricGRPC = otlpOptions[otlpmetricgrpc.Option, otlpmetricgrpc.RetryConfig]{
		otlpmetricgrpc.WithRetry, otlpmetricgrpc.WithEndpointURL, otlpmetricgrpc.WithInsecure,
		func() otlpmetricgrpc.Option { return otlpmetricgrpc.WithCompressor("gzip") },
		otlpmetricgrpc.WithHeaders, otlpmetricgrpc.WithTimeout,
	}
	metricHTTP = otlpOptions[otlpmetrichttp.Option, otlpmetrichttp.RetryConfig]{
		otlpmetrichttp.WithRetry, otlpmetrichttp.WithEndpointURL, otlpmetrichttp.WithInsecure,
		func() otlpmetrichttp.Option { return otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression) },
		otlpmetrichttp.WithHeaders, otlpmetrichttp.WithTimeout,
	}
)

// NewOTLPTraceExporter returns an OTLP span exporter over gRPC or
// HTTP/protobuf, configured by OTEL_EXPORTER_OTLP_(TRACES_)* and the OTLP
// options, which win. It does not dial: a collector that is down shows as
// failed exports.
func NewOTLPTraceExporter(ctx context.Context, opts ...Option) (sdktrace.SpanExporter, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if c.protocolFor(tracesSignal) == ProtocolGRPC {
		return otlptracegrpc.New(ctx, traceGRPC.build(c, tracesSignal)...)
	}
	// Protobuf even where the upstream exporter reads http/json, which sfotel ignores.
	return otlptracehttp.New(ctx, append(traceHTTP.build(c, tracesSignal), otlptracehttp.WithEncoding(otlptracehttp.EncodingProtobuf))...)
}

// NewOTLPMetricExporter is NewOTLPTraceExporter for metrics, for a
// sdkmetric.PeriodicReader (OTEL_EXPORTER_OTLP_METRICS_* included, with the
// temporality preference).
func NewOTLPMetricExporter(ctx context.Context, opts ...Option) (sdkmetric.Exporter, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if c.protocolFor(metricsSignal) == ProtocolGRPC {
		return otlpmetricgrpc.New(ctx, metricGRPC.build(c, metricsSignal)...)
	}
	return otlpmetrichttp.New(ctx, metricHTTP.build(c, metricsSignal)...)
}
