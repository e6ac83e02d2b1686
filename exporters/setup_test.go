package exporters

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/otlptest"
)

// The OTLP variables the tests set, spelled out: the code derives the
// per-signal names.
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

	envMetricExportInterval = "OTEL_METRIC_EXPORT_INTERVAL"
	envMetricExportTimeout  = "OTEL_METRIC_EXPORT_TIMEOUT"
)

// TestDerivedVariableNames: the names the code derives are the ones the
// specification spells.
func TestDerivedVariableNames(t *testing.T) {
	for _, c := range []struct{ got, want []string }{
		{tracesSignal.otlpEnv("PROTOCOL"), []string{envTracesProtocol, envProtocol}},
		{metricsSignal.otlpEnv("ENDPOINT"), []string{envMetricsEndpoint, envEndpoint}},
		{tracesSignal.otlpEnv("TIMEOUT"), []string{envTracesTimeout, envTimeout}},
		{metricsSignal.otlpEnv("COMPRESSION"), []string{envMetricsCompr, envCompression}},
		{[]string{tracesSignal.exporterEnv(), metricsSignal.exporterEnv()}, []string{envTracesExporter, envMetricsExporter}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("derived %q, want %q", c.got, c.want)
		}
	}
}

// otelEnv lists the variables Setup and the SDK read, beside sdkSettings;
// clearOTelEnv blanks them so the machine's environment cannot change a
// test's outcome.
var otelEnv = []string{
	envMetricExportInterval, envMetricExportTimeout,
	"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
	envProtocol, envTracesProtocol, envMetricsProtocol,
	envEndpoint, envTracesEndpoint, envMetricsEndpoint,
	envTimeout, envTracesTimeout, envMetricsTimeout,
	envTracesExporter, envMetricsExporter,
	"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_INSECURE", envCompression, envTracesCompr, envMetricsCompr,
	"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
	envSDKDisabled, envPropagators, envCardinalityLimit, envExemplarFilter,
	"OTEL_EXPORTER_PROMETHEUS_HOST", "OTEL_EXPORTER_PROMETHEUS_PORT", "OTEL_METRICS_PRODUCERS",
}

func clearOTelEnv(t *testing.T) {
	t.Helper()
	for _, k := range otelEnv {
		t.Setenv(k, "")
	}
	for k := range sdkSettings {
		t.Setenv(k, "")
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func setup(t *testing.T, opts ...Option) *Telemetry {
	t.Helper()
	tel, err := Setup(context.Background(), opts...)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(ctxTimeout(t, 5*time.Second)) })
	return tel
}

// parentAndChild records an operation span with a command span under it
// and one operation on the counter.
func parentAndChild(t *testing.T, tel *Telemetry) (parent, child trace.SpanContext) {
	t.Helper()
	tr := tel.TracerProvider().Tracer("github.com/statefulroute/sfotel/otelexec")
	ctx, ps := tr.Start(context.Background(), contract.OpSetLinkedPod.String(), trace.WithSpanKind(trace.SpanKindClient))
	_, cs := tr.Start(ctx, "EVALSHA")
	cs.End()
	ps.End()
	ops, err := tel.MeterProvider().Meter("github.com/statefulroute/sfotel/otelexec").Int64Counter(contract.MetricOperations)
	if err != nil {
		t.Fatal(err)
	}
	ops.Add(context.Background(), 1)
	return ps.SpanContext(), cs.SpanContext()
}

func resourceAttr(t *testing.T, s otlptest.ReceivedSpan, key string) string {
	t.Helper()
	v, ok := otlptest.Attr(s.Resource.GetAttributes(), key)
	if !ok {
		t.Fatalf("resource has no %s: %v", key, s.Resource.GetAttributes())
	}
	return v
}

func TestSetupExportsOverOTLP(t *testing.T) {
	for _, proto := range []Protocol{ProtocolGRPC, ProtocolHTTPProtobuf} {
		t.Run(string(proto), func(t *testing.T) {
			clearOTelEnv(t)
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test,team=routing")
			r := otlptest.Start(t)
			endpoint, transport := r.HTTPEndpoint(), otlptest.HTTP
			if proto == ProtocolGRPC {
				endpoint, transport = r.GRPCEndpoint(), otlptest.GRPC
			}
			tel := setup(t, WithServiceName("router"), WithServiceVersion("1.2.3"), WithEndpoint(endpoint), WithProtocol(proto), WithHeaders(map[string]string{"x-tenant": "t1"}), WithMetricInterval(time.Hour)) // only the flush exports
			parent, child := parentAndChild(t, tel)
			if err := tel.ForceFlush(ctxTimeout(t, 10*time.Second)); err != nil {
				t.Fatalf("ForceFlush: %v", err)
			}

			spans := r.Spans()
			if len(spans) != 2 {
				t.Fatalf("received %d spans, want 2", len(spans))
			}
			byName := map[string]otlptest.ReceivedSpan{}
			for _, s := range spans {
				byName[s.Name] = s
				if s.Transport != transport {
					t.Errorf("%s came over %s, want %s", s.Name, s.Transport, transport)
				}
			}
			ps, cs := byName[contract.OpSetLinkedPod.String()], byName["EVALSHA"]
			if ps.Span == nil || cs.Span == nil {
				t.Fatalf("span names: %v", byName)
			}
			if hex.EncodeToString(ps.SpanId) != parent.SpanID().String() || hex.EncodeToString(cs.SpanId) != child.SpanID().String() {
				t.Error("span IDs differ from the recorded ones")
			}
			if !bytes.Equal(cs.ParentSpanId, ps.SpanId) || !bytes.Equal(cs.TraceId, ps.TraceId) || len(ps.ParentSpanId) != 0 {
				t.Errorf("parent link broken: child parent=%x trace=%x, parent span=%x trace=%x", cs.ParentSpanId, cs.TraceId, ps.SpanId, ps.TraceId)
			}
			if ps.Kind.String() != "SPAN_KIND_CLIENT" {
				t.Errorf("kind %v", ps.Kind)
			}
			for key, want := range map[string]string{
				string(semconv.ServiceNameKey):    "router",
				string(semconv.ServiceVersionKey): "1.2.3",
				"deployment.environment.name":     "test",
				"team":                            "routing",
				"telemetry.sdk.language":          "go",
			} {
				if got := resourceAttr(t, ps, key); got != want {
					t.Errorf("resource %s = %q, want %q", key, got, want)
				}
			}
			for _, key := range []string{"host.name", "process.pid", "process.runtime.name", "service.instance.id"} {
				if resourceAttr(t, ps, key) == "" {
					t.Errorf("resource %s empty", key)
				}
			}
			for _, key := range []string{"process.command_args", "process.owner", "process.command_line"} {
				if v, ok := otlptest.Attr(ps.Resource.GetAttributes(), key); ok {
					t.Errorf("resource carries %s=%q; it may hold secrets", key, v)
				}
			}

			names := r.MetricNames()
			for _, want := range []string{contract.MetricOperations, contract.MetricExporterSpansDropped} {
				if !slices.Contains(names, want) {
					t.Errorf("metric %s not received; got %v", want, names)
				}
			}
			for _, m := range r.Metrics() {
				if got, _ := otlptest.Attr(m.Resource.GetAttributes(), "service.name"); got != "router" {
					t.Errorf("metric %s resource service.name = %q", m.Name, got)
				}
				if m.Transport != transport {
					t.Errorf("metric %s came over %s", m.Name, m.Transport)
				}
			}
			for _, b := range r.TraceBatches() {
				if got := b.Header.Get("x-tenant"); len(got) != 1 || got[0] != "t1" {
					t.Errorf("WithHeaders: x-tenant = %v", got)
				}
			}
			if s := tel.Stats(); s.SpansQueued != 2 || s.SpansExported != 2 || s.SpansDropped != 0 || s.MetricExports < 1 || s.MetricExportsFailed != 0 {
				t.Errorf("Stats = %+v", s)
			}

			first := tel.Shutdown(ctxTimeout(t, 5*time.Second))
			if first != nil {
				t.Fatalf("Shutdown: %v", first)
			}
			if second := tel.Shutdown(ctxTimeout(t, 5*time.Second)); second != nil {
				t.Fatalf("second Shutdown: %v", second)
			}
		})
	}
}

// TestSetupFromEnvironment configures everything through the standard
// variables: per-signal endpoints and protocols (traces over HTTP, metrics
// over gRPC), headers, and OTEL_SERVICE_NAME winning over the options.
func TestSetupFromEnvironment(t *testing.T) {
	clearOTelEnv(t)
	r := otlptest.Start(t)
	t.Setenv(envTracesEndpoint, r.HTTPEndpoint()+"/v1/traces")
	t.Setenv(envTracesProtocol, "http/protobuf")
	t.Setenv(envMetricsEndpoint, r.GRPCEndpoint())
	t.Setenv(envMetricsProtocol, "grpc")
	t.Setenv(envProtocol, "bogus-but-overridden") // per-signal variables win
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s3cret")
	t.Setenv("OTEL_SERVICE_NAME", "from-env")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "service.version=9.9.9")

	tel := setup(t, WithServiceName("from-config"), WithServiceVersion("1.0.0"))
	parentAndChild(t, tel)
	if err := tel.ForceFlush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("ForceFlush: %v", err)
	}

	spans := r.Spans()
	if len(spans) != 2 {
		t.Fatalf("received %d spans", len(spans))
	}
	if spans[0].Transport != otlptest.HTTP {
		t.Errorf("traces came over %s, want HTTP", spans[0].Transport)
	}
	if got := resourceAttr(t, spans[0], "service.name"); got != "from-env" {
		t.Errorf("service.name = %q, want OTEL_SERVICE_NAME's from-env", got)
	}
	if got := resourceAttr(t, spans[0], "service.version"); got != "9.9.9" {
		t.Errorf("service.version = %q, want OTEL_RESOURCE_ATTRIBUTES's 9.9.9", got)
	}
	ms := r.Metrics()
	if len(ms) == 0 || ms[0].Transport != otlptest.GRPC {
		t.Fatalf("metrics: %d, want some over gRPC", len(ms))
	}
	for _, b := range r.TraceBatches() {
		if got := b.Header.Get("x-api-key"); len(got) != 1 || got[0] != "s3cret" {
			t.Errorf("trace export header x-api-key = %v", got)
		}
	}
	for _, b := range r.MetricBatches() {
		if got := b.Header.Get("x-api-key"); len(got) != 1 || got[0] != "s3cret" {
			t.Errorf("metric export header x-api-key = %v", got)
		}
	}
}

func TestSetupGenericEndpointAndProtocolFromEnvironment(t *testing.T) {
	clearOTelEnv(t)
	r := otlptest.Start(t)
	t.Setenv(envEndpoint, r.GRPCEndpoint())
	t.Setenv(envProtocol, "grpc")
	tel := setup(t)
	parentAndChild(t, tel)
	if err := tel.ForceFlush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := len(r.Spans()); n != 2 {
		t.Fatalf("%d spans", n)
	}
	if got := resourceAttr(t, r.Spans()[0], "service.name"); !strings.HasPrefix(got, "unknown_service:") {
		t.Errorf("service.name without any configuration = %q, want unknown_service:<exe>", got)
	}
	if c := r.Counts(); c.GRPCCalls == 0 || c.HTTPCalls != 0 {
		t.Errorf("Counts = %+v, want gRPC only", c)
	}
}

func TestSetupSignalsSwitchedOffByEnvironment(t *testing.T) {
	clearOTelEnv(t)
	r := otlptest.Start(t)
	t.Setenv(envTracesExporter, "none")
	tel := setup(t, WithEndpoint(r.HTTPEndpoint()))
	parentAndChild(t, tel)
	if err := tel.ForceFlush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := len(r.Spans()); n != 0 {
		t.Errorf("OTEL_TRACES_EXPORTER=none, yet %d spans sent", n)
	}
	if !slices.Contains(r.MetricNames(), contract.MetricOperations) {
		t.Error("metrics should still be sent")
	}
	if slices.Contains(r.MetricNames(), contract.MetricExporterSpansDropped) {
		t.Error("dropped-span counter registered without a span exporter")
	}
}

func TestSetupWithoutOTLP(t *testing.T) {
	clearOTelEnv(t)
	tel := setup(t, WithPrometheus())
	parentAndChild(t, tel)
	if err := tel.ForceFlush(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if s := tel.Stats(); s != (Stats{}) {
		t.Errorf("Stats = %+v, want nothing exported", s)
	}
	fams := parseExposition(t, scrape(t, tel.Prometheus()).Body.Bytes())
	if v := fams["stateful_executor_operations_total"].GetMetric()[0].GetCounter().GetValue(); v != 1 {
		t.Errorf("operations_total = %v", v)
	}

	// WithoutOTLP ignores an endpoint in the environment.
	t.Setenv(envEndpoint, "http://127.0.0.1:1")
	tel = setup(t, WithoutOTLP())
	parentAndChild(t, tel)
	if err := tel.ForceFlush(ctxTimeout(t, 5*time.Second)); err != nil || tel.Stats() != (Stats{}) {
		t.Errorf("WithoutOTLP: %v, %+v", err, tel.Stats())
	}
}

func TestSetupSampler(t *testing.T) {
	sampled := func(t *testing.T, s Sampler, parent trace.SpanContext) bool {
		t.Helper()
		tel := setup(t, WithSampler(s))
		ctx := trace.ContextWithRemoteSpanContext(context.Background(), parent)
		_, span := tel.TracerProvider().Tracer("t").Start(ctx, "op")
		span.End()
		return span.SpanContext().IsSampled()
	}
	tid, _ := trace.TraceIDFromHex("0102030405060708090a0b0c0d0e0f10")
	sid, _ := trace.SpanIDFromHex("0102030405060708")
	unsampledParent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, Remote: true})
	sampledParent := unsampledParent.WithTraceFlags(trace.FlagsSampled)
	none := trace.SpanContext{}

	cases := []struct {
		name, sampler, arg string
		cfg                Sampler
		parent             trace.SpanContext
		want               bool
	}{
		{"default samples a root", "", "", nil, none, true},
		{"default follows an unsampled parent", "", "", nil, unsampledParent, false},
		{"default follows a sampled parent", "", "", nil, sampledParent, true},
		{"always_off", "always_off", "", nil, none, false},
		{"traceidratio 0", "traceidratio", "0", nil, none, false},
		{"traceidratio 1", "traceidratio", "1", nil, none, true},
		{"parentbased_always_off follows a sampled parent", "parentbased_always_off", "", nil, sampledParent, true},
		{"WithSampler overrides the environment", "always_off", "", sdktrace.AlwaysSample(), none, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clearOTelEnv(t)
			t.Setenv("OTEL_TRACES_SAMPLER", c.sampler)
			t.Setenv("OTEL_TRACES_SAMPLER_ARG", c.arg)
			if got := sampled(t, c.cfg, c.parent); got != c.want {
				t.Fatalf("sampled = %v, want %v", got, c.want)
			}
		})
	}
}

// Sampler is sdktrace.Sampler, named here to keep the table readable.
type Sampler = sdktrace.Sampler

func TestSetupSetGlobal(t *testing.T) {
	clearOTelEnv(t)
	prevTP, prevMP, prevProp := otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetMeterProvider(prevMP)
		otel.SetTextMapPropagator(prevProp)
	})
	tel := setup(t, WithGlobal())
	if otel.GetTracerProvider() != tel.TracerProvider() || otel.GetMeterProvider() != tel.MeterProvider() {
		t.Fatal("providers not installed globally")
	}
	fields := otel.GetTextMapPropagator().Fields()
	if !slices.Contains(fields, "traceparent") || !slices.Contains(fields, "baggage") {
		t.Fatalf("propagator fields %v", fields)
	}
}

func TestSetupRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		opts []Option
		want string
	}{
		{"unknown protocol option", nil, []Option{WithEndpoint("http://127.0.0.1:4318"), WithProtocol("udp")}, `WithProtocol: unknown OTLP protocol "udp"`},
		{"http/json", nil, []Option{WithEndpoint("http://127.0.0.1:4318"), WithProtocol("http/json")}, "not supported"},
		{"plain text to a remote host", nil, []Option{WithEndpoint("http://collector.example:4318")}, "needs WithInsecureTransport(true)"},
		{"https with WithInsecureTransport", nil, []Option{WithEndpoint("https://collector.example:4318"), WithInsecureTransport(true)}, "contradicts WithInsecureTransport(true)"},
		{"no port", nil, []Option{WithEndpoint("http://127.0.0.1")}, "missing port"},
		{"scheme", nil, []Option{WithEndpoint("ftp://127.0.0.1:21")}, "scheme must be http or https"},
		{"host without port", nil, []Option{WithEndpoint("localhost")}, "want host:port"},
		{"spaces", nil, []Option{WithEndpoint(" http://127.0.0.1:4318")}, "surrounded by spaces"},
		{"user info", nil, []Option{WithEndpoint("http://u:p@127.0.0.1:4318")}, "no user"},
		{"disable with endpoint", nil, []Option{WithoutOTLP(), WithEndpoint("http://127.0.0.1:4318")}, "WithoutOTLP contradicts WithEndpoint"},
		{"https with WithInsecureTransport", nil, []Option{WithEndpoint("https://collector.example:4318"), WithInsecureTransport(true)}, "contradicts WithInsecureTransport(true)"},
		{"zero timeout", nil, []Option{WithEndpoint("http://127.0.0.1:4318"), WithTimeout(0)}, "exporters: WithTimeout: must be > 0, got 0s"},
		{"negative timeout", nil, []Option{WithEndpoint("http://127.0.0.1:4318"), WithTimeout(-time.Second)}, "WithTimeout: must be > 0, got -1s"},
		{"empty header name", nil, []Option{WithEndpoint("http://127.0.0.1:4318"), WithHeaders(map[string]string{"": "x"})}, "WithHeaders: a header name is empty"},
		{"negative metric interval", nil, []Option{WithMetricInterval(-time.Second)}, "WithMetricInterval: must not be negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clearOTelEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			tel, err := Setup(context.Background(), c.opts...)
			if err == nil {
				_ = tel.Shutdown(context.Background())
				t.Fatal("Setup accepted the options")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestParseEndpoint(t *testing.T) {
	cases := []struct {
		in       string
		insecure bool
		want     string // the scheme says whether TLS is used
	}{
		{"http://127.0.0.1:4318", false, "http://127.0.0.1:4318"},
		{"http://127.9.9.9:4318/", false, "http://127.9.9.9:4318"},
		{"http://localhost:4317", false, "http://localhost:4317"},
		{"http://[::1]:4318/otlp", false, "http://[::1]:4318/otlp"},
		{"https://collector.example:4318/base/", false, "https://collector.example:4318/base"},
		{"http://collector.example:4318", true, "http://collector.example:4318"},
		{"collector.example:4317", false, "https://collector.example:4317"},
		{"127.0.0.1:4317", false, "https://127.0.0.1:4317"},
		{"127.0.0.1:4317", true, "http://127.0.0.1:4317"},
	}
	for _, c := range cases {
		got, err := parseEndpoint(c.in, c.insecure)
		if err != nil || got != c.want {
			t.Errorf("parseEndpoint(%q, %v) = %q, %v; want %q", c.in, c.insecure, got, err, c.want)
		}
	}
}

func TestProtocolPrecedence(t *testing.T) {
	clearOTelEnv(t)
	if p := (config{}).protocolFor(tracesSignal); p != ProtocolHTTPProtobuf {
		t.Errorf("default = %q", p)
	}
	t.Setenv(envProtocol, "grpc")
	if p := (config{}).protocolFor(metricsSignal); p != ProtocolGRPC {
		t.Errorf("generic variable: %q", p)
	}
	t.Setenv(envMetricsProtocol, "http/protobuf")
	if p := (config{}).protocolFor(metricsSignal); p != ProtocolHTTPProtobuf {
		t.Errorf("per-signal variable: %q", p)
	}
	if p := (config{}).protocolFor(tracesSignal); p != ProtocolGRPC {
		t.Errorf("metrics variable leaked into traces: %q", p)
	}
	if p := (config{protocol: ProtocolGRPC}).protocolFor(metricsSignal); p != ProtocolGRPC {
		t.Errorf("option: %q", p)
	}
}

func TestTimeoutPrecedence(t *testing.T) {
	clearOTelEnv(t)
	if d := (config{}).timeoutFor(tracesSignal); d != DefaultOTLPTimeout {
		t.Errorf("default = %v", d)
	}
	t.Setenv(envTracesTimeout, "1000")
	if d := (config{}).timeoutFor(tracesSignal); d != 0 {
		t.Errorf("with OTEL_EXPORTER_OTLP_TRACES_TIMEOUT set, want 0 (the exporter reads it), got %v", d)
	}
	if d := (config{}).timeoutFor(metricsSignal); d != DefaultOTLPTimeout {
		t.Errorf("traces variable leaked into metrics: %v", d)
	}
	if d := (config{timeout: time.Second}).timeoutFor(tracesSignal); d != time.Second {
		t.Errorf("option: %v", d)
	}
}

// logRecorder is a slog.Handler that keeps records.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r)
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) messages(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if r.Level == level {
			out = append(out, r.Message)
		}
	}
	return out
}

// TestSetupCollectorDown records spans under load against a collector that
// hangs, rejects or is not listening, with a long export timeout: span.End
// must not wait for the exporter, and Shutdown must return by its deadline.
func TestSetupCollectorDown(t *testing.T) {
	for _, mode := range []otlptest.Mode{otlptest.BlackHole, otlptest.Reject, otlptest.Refuse} {
		for _, proto := range []Protocol{ProtocolGRPC, ProtocolHTTPProtobuf} {
			t.Run(mode.String()+"/"+string(proto), func(t *testing.T) {
				clearOTelEnv(t)
				r := otlptest.Start(t, otlptest.WithMode(mode))
				endpoint := r.HTTPEndpoint()
				if proto == ProtocolGRPC {
					endpoint = r.GRPCEndpoint()
				}
				logs := &logRecorder{}
				tel, err := Setup(context.Background(), WithServiceName("down"), WithEndpoint(endpoint), WithProtocol(proto),
					WithTimeout(time.Minute), // long enough that waiting on the exporter would show
					WithMetricInterval(50*time.Millisecond), WithPrometheus(), WithLogger(slog.New(logs)))
				if err != nil {
					t.Fatal(err)
				}
				tr := tel.TracerProvider().Tracer("load")
				const spans = 20000
				start := time.Now()
				recorded := make(chan struct{})
				go func() {
					defer close(recorded)
					var wg sync.WaitGroup
					for g := range 4 {
						wg.Go(func() {
							for i := range spans / 4 {
								_, s := tr.Start(context.Background(), contract.Op((g+i)%int(contract.NumOps)).String())
								s.End()
							}
						})
					}
					wg.Wait()
				}()
				// Recording takes well under a second even under -race;
				// waiting on the exporter would take minutes.
				select {
				case <-recorded:
				case <-time.After(15 * time.Second):
					t.Fatalf("%d spans not recorded after 15 s: span.End waits on the exporter", spans)
				}
				t.Logf("%d spans recorded in %v", spans, time.Since(start))
				// Give the processor and the periodic reader time to try.
				time.Sleep(300 * time.Millisecond)

				const deadline = time.Second
				start = time.Now()
				err = tel.Shutdown(ctxTimeout(t, deadline))
				took := time.Since(start)
				if took > deadline+2*time.Second {
					t.Errorf("Shutdown took %v with a %v deadline", took, deadline)
				}
				if err == nil {
					t.Error("Shutdown reported no error although nothing was delivered")
				}
				if again := tel.Shutdown(context.Background()); !errors.Is(again, err) && again != err {
					t.Errorf("second Shutdown = %v, want the first result %v", again, err)
				}
				s := tel.Stats()
				if s.SpansQueued != spans || s.SpansExported != 0 {
					t.Errorf("Stats = %+v: want all %d spans queued, none exported", s, spans)
				}
				if mode != otlptest.BlackHole && s.SpansDropped == 0 && s.MetricExportsFailed == 0 {
					t.Errorf("Stats = %+v: no failure counted", s)
				}
				if c := r.Counts(); c.Traces != 0 || c.Metrics != 0 {
					t.Errorf("receiver recorded data in mode %s: %+v", mode, c)
				}
				if w := logs.messages(slog.LevelWarn); len(w) > 2 {
					t.Errorf("outage logged %d times, want at most once per signal: %q", len(w), w)
				}
			})
		}
	}
}

// TestSetupCollectorRecovers: a rejecting collector costs the batches sent
// meanwhile, counted and logged once; when it accepts again, later spans
// arrive and the recovery is logged.
func TestSetupCollectorRecovers(t *testing.T) {
	clearOTelEnv(t)
	r := otlptest.Start(t, otlptest.WithMode(otlptest.Reject))
	logs := &logRecorder{}
	tel := setup(t, WithEndpoint(r.HTTPEndpoint()), WithTimeout(500*time.Millisecond), WithMetricInterval(time.Hour), WithPrometheus(), WithLogger(slog.New(logs)))
	tr := tel.TracerProvider().Tracer("t")
	for range 3 {
		_, s := tr.Start(context.Background(), "lost")
		s.End()
	}
	err := tel.ForceFlush(ctxTimeout(t, 10*time.Second))
	if err == nil || !strings.Contains(err.Error(), "3 spans not delivered") {
		t.Fatalf("ForceFlush against a rejecting collector: %v", err)
	}
	if s := tel.Stats(); s.SpansDropped != 3 || s.SpansExported != 0 {
		t.Fatalf("Stats = %+v", s)
	}
	// The dropped count is a metric too.
	fams := parseExposition(t, scrape(t, tel.Prometheus()).Body.Bytes())
	dropped := series(t, fams, "sfotel_exporter_spans_dropped_total", dto.MetricType_COUNTER, map[string]string{})
	if v := dropped.GetCounter().GetValue(); v != 3 {
		t.Errorf("sfotel_exporter_spans_dropped_total = %v, want 3", v)
	}

	if err := r.SetMode(otlptest.Accept); err != nil {
		t.Fatal(err)
	}
	_, s := tr.Start(context.Background(), "delivered")
	s.End()
	if err := tel.ForceFlush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("ForceFlush after recovery: %v", err)
	}
	if got := r.Spans(); len(got) != 1 || got[0].Name != "delivered" {
		t.Fatalf("received %v", got)
	}
	if w := logs.messages(slog.LevelWarn); len(w) != 2 || !strings.Contains(w[0], "span export failing") {
		// one for spans, one for the metric flush
		t.Errorf("warnings %q", w)
	}
	if i := logs.messages(slog.LevelInfo); !slices.ContainsFunc(i, func(m string) bool { return strings.Contains(m, "span export recovered") }) {
		t.Errorf("recovery not logged: %q", i)
	}
}

// TestShutdownWithoutDeadline: a context without a deadline still gets one,
// so a hanging collector cannot hold Shutdown for the export timeouts of
// every queued batch.
func TestShutdownWithoutDeadline(t *testing.T) {
	clearOTelEnv(t)
	defer func(d time.Duration) { shutdownTimeout = d }(shutdownTimeout)
	shutdownTimeout = 500 * time.Millisecond
	r := otlptest.Start(t, otlptest.WithMode(otlptest.BlackHole))
	before := runtime.NumGoroutine()
	tel, err := Setup(context.Background(), WithEndpoint(r.GRPCEndpoint()), WithProtocol(ProtocolGRPC), WithTimeout(time.Minute), WithLogger(slog.New(&logRecorder{})))
	if err != nil {
		t.Fatal(err)
	}
	for range 3000 { // more than one batch
		_, s := tel.TracerProvider().Tracer("t").Start(context.Background(), "op")
		s.End()
	}
	start := time.Now()
	err = tel.Shutdown(context.Background())
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Shutdown without a deadline took %v, want about %v", took, shutdownTimeout)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want a deadline error", err)
	}
	// The SDK's drain goes on after Shutdown returns; the abort makes
	// its remaining exports fail at once, so it ends within moments rather
	// than one export timeout (a minute here) per queued batch.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Errorf("%d goroutines 5 s after Shutdown, %d before Setup", n, before)
	}
}

func TestSetupExtraReadersAndProcessors(t *testing.T) {
	clearOTelEnv(t)
	reader := sdkmetric.NewManualReader()
	spans := tracetest.NewSpanRecorder()
	tel := setup(t, WithServiceName("extra"), WithResourceAttributes(attribute.String("team", "routing")), WithReader(nil), WithReader(reader), WithSpanProcessor(nil), WithSpanProcessor(spans))
	parentAndChild(t, tel)

	if got := len(spans.Ended()); got != 2 {
		t.Fatalf("span processor saw %d spans, want 2", got)
	}
	if v, _ := spans.Ended()[0].Resource().Set().Value("team"); v.AsString() != "routing" {
		t.Errorf("WithResourceAttributes: team = %q", v.AsString())
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			names = append(names, m.Name)
		}
	}
	if !slices.Contains(names, contract.MetricOperations) {
		t.Errorf("extra reader got %v", names)
	}
	if v, _ := rm.Resource.Set().Value(semconv.ServiceNameKey); v.AsString() != "extra" {
		t.Errorf("reader resource service.name = %q", v.AsString())
	}
}

func TestSetupResourceInput(t *testing.T) {
	clearOTelEnv(t)
	_, err := Setup(context.Background(), WithResourceAttributes(attribute.KeyValue{}))
	if err == nil || !strings.Contains(err.Error(), "WithResourceAttributes: invalid attribute") {
		t.Fatalf("invalid attribute: %v", err)
	}

	// A malformed OTEL_RESOURCE_ATTRIBUTES costs a warning, not telemetry.
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "good=1,broken")
	logs := &logRecorder{}
	tel := setup(t, WithServiceName("partial"), WithLogger(slog.New(logs)))
	if v, _ := tel.Resource().Set().Value(semconv.ServiceNameKey); v.AsString() != "partial" {
		t.Errorf("service.name = %q", v.AsString())
	}
	if w := logs.messages(slog.LevelWarn); len(w) != 1 || !strings.Contains(w[0], "resource partly detected") {
		t.Errorf("warnings = %q", w)
	}
}

// TestSetupFailureLeavesNothingRunning: when the metric side is refused
// after the span side was built, the batch processor is stopped again.
func TestSetupFailureLeavesNothingRunning(t *testing.T) {
	clearOTelEnv(t)
	// autoexport's Prometheus reader cannot bind a port that is taken.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	t.Setenv(envMetricsExporter, "prometheus")
	t.Setenv("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1")
	t.Setenv("OTEL_EXPORTER_PROMETHEUS_PORT", strconv.Itoa(taken.Addr().(*net.TCPAddr).Port))
	before := runtime.NumGoroutine()
	for range 20 {
		if _, err := Setup(context.Background(), WithEndpoint("http://127.0.0.1:4318")); err == nil || !strings.Contains(err.Error(), envMetricsExporter) {
			t.Fatalf("Setup = %v, want an error naming %s", err, envMetricsExporter)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Fatalf("%d goroutines after 20 failed Setups, %d before", n, before)
	}
}

// TestShutdownHealthyCollectorWithExportInFlight: the periodic reader
// cancels its own in-flight export when it shuts down and then exports
// everything again; that is not lost data and Shutdown must not report it.
func TestShutdownHealthyCollectorWithExportInFlight(t *testing.T) {
	clearOTelEnv(t)
	for i := range 10 {
		r := otlptest.Start(t)
		logs := &logRecorder{}
		tel, err := Setup(context.Background(), WithEndpoint(r.HTTPEndpoint()), WithMetricInterval(2*time.Millisecond), WithLogger(slog.New(logs)))
		if err != nil {
			t.Fatal(err)
		}
		probe, _ := tel.MeterProvider().Meter("t").Int64Counter("probe")
		probe.Add(context.Background(), 1)
		time.Sleep(20 * time.Millisecond)
		if err := tel.Shutdown(ctxTimeout(t, 5*time.Second)); err != nil {
			t.Errorf("try %d: Shutdown with a healthy collector: %v", i, err)
		}
		if s := tel.Stats(); s.MetricExportsFailed != 0 {
			t.Errorf("try %d: %d metric exports counted as failed", i, s.MetricExportsFailed)
		}
		if w := logs.messages(slog.LevelWarn); len(w) != 0 {
			t.Errorf("try %d: warnings %q", i, w)
		}
		if !slices.Contains(r.MetricNames(), "probe") {
			t.Errorf("try %d: probe metric never arrived", i)
		}
		r.Close()
	}
}

// TestProtocolAndCompressionVariables: the values are read in any case; an
// unknown one is a warning naming the variable and is ignored (the generic
// variable, else the default, applies), never a failed Setup. Both signals
// reach a real collector over the transport and with the compression
// asked for.
func TestProtocolAndCompressionVariables(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		grpc  bool
		gzip  bool
		warns []string
	}{
		{"GRPC", map[string]string{envProtocol: "GRPC"}, true, false, nil},
		{"HTTP/PROTOBUF", map[string]string{envProtocol: "HTTP/PROTOBUF"}, false, false, nil},
		{"unknown", map[string]string{envProtocol: "bogus"}, false, false, []string{envProtocol}},
		{"http/json", map[string]string{envProtocol: "http/json"}, false, false, []string{envProtocol}},
		{"unknown per-signal", map[string]string{envTracesProtocol: "Bogus", envMetricsProtocol: "udp", envProtocol: "Grpc"}, true, false, []string{envTracesProtocol, envMetricsProtocol}},
		{"GZIP", map[string]string{envCompression: "GZIP"}, false, true, nil},
		{"per-signal None", map[string]string{envTracesCompr: "None", envMetricsCompr: "NONE", envCompression: "gzip"}, false, false, nil},
		{"unknown compression", map[string]string{envTracesCompr: "zstd", envMetricsCompr: "zstd", envCompression: "Gzip"}, false, true, []string{envTracesCompr, envMetricsCompr}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearOTelEnv(t)
			r := otlptest.Start(t)
			endpoint, transport := r.HTTPEndpoint(), otlptest.HTTP
			if tc.grpc {
				endpoint, transport = r.GRPCEndpoint(), otlptest.GRPC
			}
			t.Setenv(envEndpoint, endpoint)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			warnings := recordHandled(t)
			tel := setup(t, WithMetricInterval(time.Hour))
			parentAndChild(t, tel)
			if err := tel.ForceFlush(ctxTimeout(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
			traces, metrics := r.TraceBatches(), r.MetricBatches()
			if len(traces) == 0 || len(metrics) == 0 {
				t.Fatalf("%d trace and %d metric exports, want some of each", len(traces), len(metrics))
			}
			if traces[0].Transport != transport || metrics[0].Transport != transport {
				t.Errorf("traces over %s, metrics over %s, want %s", traces[0].Transport, metrics[0].Transport, transport)
			}
			gzipped := func(h []string) bool { return len(h) == 1 && h[0] == "gzip" }
			if g1, g2 := gzipped(traces[0].Header.Get("content-encoding")), gzipped(metrics[0].Header.Get("content-encoding")); g1 != tc.gzip || g2 != tc.gzip {
				t.Errorf("gzip: traces %v, metrics %v, want %v", g1, g2, tc.gzip)
			}
			for _, env := range []string{envProtocol, envTracesProtocol, envMetricsProtocol, envCompression, envTracesCompr, envMetricsCompr} {
				if w := warnings.about(env); (len(w) > 0) != slices.Contains(tc.warns, env) {
					t.Errorf("warnings about %s: %q", env, w)
				}
			}
		})
	}
}
