package exporters

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/otlptest"
)

// handled keeps the warnings that reach the global error handler
// (otel.Handle) while a test runs.
type handled struct {
	mu   sync.Mutex
	errs []string
}

var (
	handling     atomic.Pointer[handled]
	handlerOnce  sync.Once
	otelHandlers = otel.ErrorHandlerFunc(func(err error) {
		if h := handling.Load(); h != nil {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.errs = append(h.errs, err.Error())
		}
	})
)

// recordHandled collects what otel.Handle receives until the test ends.
// The handler is installed once: otel.SetErrorHandler cannot be undone.
func recordHandled(t *testing.T) *handled {
	t.Helper()
	handlerOnce.Do(func() { otel.SetErrorHandler(otelHandlers) })
	h := &handled{}
	handling.Store(h)
	t.Cleanup(func() { handling.CompareAndSwap(h, nil) })
	return h
}

// about returns the warnings that name the variable env.
func (h *handled) about(env string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.errs {
		if strings.HasPrefix(e, "sfotel: "+env+"=") {
			out = append(out, e)
		}
	}
	return out
}

// restoreGlobals puts the otel globals back after a test that sets them.
func restoreGlobals(t *testing.T) {
	t.Helper()
	tp, mp, prop := otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(tp)
		otel.SetMeterProvider(mp)
		otel.SetTextMapPropagator(prop)
	})
}

// collect returns the metric names a manual reader sees.
func collect(t *testing.T, r *sdkmetric.ManualReader) (metricdata.ResourceMetrics, []string) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			names = append(names, m.Name)
		}
	}
	return rm, names
}

var remoteParent = func() trace.SpanContext {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
}()

// TestSDKDisabled: OTEL_SDK_DISABLED=true (any case) builds no exporter and
// records nothing anywhere, yet passes a caller's trace context through and
// installs the propagator; any other value leaves the SDK on, a value that is
// neither true nor false with a warning.
func TestSDKDisabled(t *testing.T) {
	for _, tc := range []struct {
		value    string
		disabled bool
		warning  bool
	}{
		{"true", true, false},
		{"TRUE", true, false},
		{"false", false, false},
		{"1", false, true},
		{"yes", false, true},
	} {
		t.Run(tc.value, func(t *testing.T) {
			clearOTelEnv(t)
			restoreGlobals(t)
			t.Setenv(envSDKDisabled, tc.value)
			r := otlptest.Start(t)
			reader := sdkmetric.NewManualReader()
			spans := tracetest.NewSpanRecorder()
			warnings := recordHandled(t)
			tel := setup(t, WithEndpoint(r.HTTPEndpoint()), WithMetricInterval(time.Hour), WithPrometheus(), WithReader(reader), WithSpanProcessor(spans), WithGlobal())
			if tel.Disabled() != tc.disabled {
				t.Fatalf("Disabled() = %v", tel.Disabled())
			}
			if w := warnings.about(envSDKDisabled); (len(w) > 0) != tc.warning {
				t.Errorf("warnings %q, want one: %v", w, tc.warning)
			}

			// A span under a remote parent, and a measurement.
			ctx := trace.ContextWithRemoteSpanContext(context.Background(), remoteParent)
			ctx, span := tel.TracerProvider().Tracer("t").Start(ctx, "op")
			span.End()
			recordExecutorLike(t, tel.MeterProvider())
			if err := tel.ForceFlush(ctxTimeout(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}

			carrier := propagation.MapCarrier{}
			otel.GetTextMapPropagator().Inject(ctx, carrier)
			_, names := collect(t, reader)
			fams := parseExposition(t, scrape(t, tel.Prometheus()).Body.Bytes())
			_, promHas := fams["stateful_executor_operations_total"]
			if !tc.disabled {
				if len(r.Spans()) != 1 || len(spans.Ended()) != 1 || !slices.Contains(names, contract.MetricOperations) || !promHas {
					t.Fatalf("enabled SDK: %d spans received, %d recorded, reader %v, /metrics has operations: %v", len(r.Spans()), len(spans.Ended()), names, promHas)
				}
				return
			}
			if n, m := len(r.Spans()), len(r.Metrics()); n != 0 || m != 0 {
				t.Errorf("disabled SDK exported %d spans and %d metrics", n, m)
			}
			if n := len(spans.Ended()); n != 0 {
				t.Errorf("disabled SDK handed %d spans to a span processor", n)
			}
			if len(names) != 0 {
				t.Errorf("disabled SDK: WithReader collected %v", names)
			}
			if promHas {
				t.Error("disabled SDK: /metrics serves the executor's operations")
			}
			// The no-op tracer keeps the caller's trace, so a disabled
			// service does not break the traces that pass through it.
			if got := span.SpanContext(); got.TraceID() != remoteParent.TraceID() || got.SpanID() != remoteParent.SpanID() {
				t.Errorf("span under a remote parent has context %v, want the parent's %v", got, remoteParent)
			}
			if tp := carrier.Get("traceparent"); !strings.Contains(tp, remoteParent.TraceID().String()) {
				t.Errorf("global propagator injected traceparent %q; the propagator must be installed even when disabled", tp)
			}
			if s := tel.Stats(); s != (Stats{}) {
				t.Errorf("Stats = %+v", s)
			}
			if err := tel.Shutdown(ctxTimeout(t, 5*time.Second)); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
}

func TestPropagatorsFromEnvironment(t *testing.T) {
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), remoteParent)
	for _, tc := range []struct {
		value      string
		wantFields []string // a sorted subset that must be there
		noFields   []string
		warning    bool
	}{
		{"", []string{"baggage", "traceparent"}, []string{"b3"}, false},
		{"b3", []string{"b3"}, []string{"traceparent", "baggage"}, false},
		{"b3multi", []string{"x-b3-traceid"}, []string{"traceparent"}, false},
		{" tracecontext , jaeger ", []string{"traceparent", "uber-trace-id"}, []string{"baggage"}, false},
		{"none", nil, []string{"traceparent", "baggage"}, false},
		{"tracecontext,carrier-pigeon", []string{"traceparent"}, []string{"baggage"}, true},
		{"carrier-pigeon", []string{"baggage", "traceparent"}, nil, true},
	} {
		t.Run(tc.value, func(t *testing.T) {
			clearOTelEnv(t)
			restoreGlobals(t)
			t.Setenv(envPropagators, tc.value)
			warnings := recordHandled(t)
			tel := setup(t, WithGlobal())
			if !slices.Equal(slices.Sorted(slices.Values(tel.Propagator().Fields())), slices.Sorted(slices.Values(otel.GetTextMapPropagator().Fields()))) {
				t.Error("WithGlobal did not install Telemetry.Propagator()")
			}
			fields := tel.Propagator().Fields()
			for _, f := range tc.wantFields {
				if !slices.Contains(fields, f) {
					t.Errorf("fields %v lack %s", fields, f)
				}
			}
			for _, f := range tc.noFields {
				if slices.Contains(fields, f) {
					t.Errorf("fields %v have %s", fields, f)
				}
			}
			carrier := propagation.MapCarrier{}
			tel.Propagator().Inject(ctx, carrier)
			if tc.value == "none" && len(carrier) != 0 {
				t.Errorf("none injected %v", carrier)
			}
			if len(tc.wantFields) > 0 && !strings.Contains(fmt.Sprint(carrier), remoteParent.TraceID().String()) {
				t.Errorf("injected %v: no trace ID", carrier)
			}
			if w := warnings.about(envPropagators); (len(w) > 0) != tc.warning {
				t.Errorf("warnings %q", w)
			}
		})
	}
}

// TestTracesAndMetricsExporterFromEnvironment: otlp turns OTLP on without
// an endpoint (the specification's default endpoint), none turns a signal
// off, an unknown name or a list is a warning and ignored, and unset means
// OTLP only where an endpoint is configured.
func TestTracesAndMetricsExporterFromEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name           string
		traces         string
		endpoint       bool
		wantOTLPTraces bool
		warning        bool
	}{
		{"unset, no endpoint", "", false, false, false},
		{"unset, endpoint", "", true, true, false},
		{"otlp, no endpoint", "otlp", false, true, false},
		{"OTLP in capitals", "OTLP", false, true, false},
		{"none beats the endpoint", "none", true, false, false},
		{"unknown name", "carrier-pigeon", true, true, true},
		{"a list", "otlp,console", true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearOTelEnv(t)
			t.Setenv(envTracesExporter, tc.traces)
			warnings := recordHandled(t)
			// Where the specification's default endpoint points.
			opt := WithTimeout(100 * time.Millisecond)
			if tc.endpoint {
				// Nothing listens there: only whether an exporter exists counts.
				opt = WithEndpoint("http://127.0.0.1:1")
			}
			tel := setup(t, opt)
			_, s := tel.TracerProvider().Tracer("t").Start(context.Background(), "op")
			s.End()
			_ = tel.TracerProvider().ForceFlush(ctxTimeout(t, 5*time.Second))
			if got := tel.Stats().SpansQueued == 1; got != tc.wantOTLPTraces {
				t.Errorf("OTLP span exporter present = %v, want %v (Stats %+v)", got, tc.wantOTLPTraces, tel.Stats())
			}
			if w := warnings.about(envTracesExporter); tc.warning != (len(w) > 0) {
				t.Errorf("warnings %q", w)
			}
		})
	}

	t.Run("metrics none beats the endpoint", func(t *testing.T) {
		clearOTelEnv(t)
		r := otlptest.Start(t)
		t.Setenv(envMetricsExporter, "none")
		tel := setup(t, WithEndpoint(r.HTTPEndpoint()), WithMetricInterval(time.Hour))
		parentAndChild(t, tel)
		if err := tel.ForceFlush(ctxTimeout(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		if len(r.Spans()) != 2 || len(r.Metrics()) != 0 {
			t.Errorf("OTEL_METRICS_EXPORTER=none: %d spans (want 2), %d metrics (want 0)", len(r.Spans()), len(r.Metrics()))
		}
	})
	t.Run("metrics otlp sends without OTEL_TRACES_EXPORTER", func(t *testing.T) {
		clearOTelEnv(t)
		r := otlptest.Start(t)
		t.Setenv(envMetricsExporter, "otlp")
		t.Setenv(envMetricsEndpoint, r.HTTPEndpoint()+"/v1/metrics")
		tel := setup(t, WithMetricInterval(time.Hour))
		parentAndChild(t, tel)
		if err := tel.ForceFlush(ctxTimeout(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		if len(r.Spans()) != 0 || !slices.Contains(r.MetricNames(), contract.MetricOperations) {
			t.Errorf("%d spans (want 0), metrics %v", len(r.Spans()), r.MetricNames())
		}
	})
}

// TestMetricsExporterPrometheus: "prometheus" without WithPrometheus is
// autoexport's exporter on OTEL_EXPORTER_PROMETHEUS_HOST:PORT; with it, the
// reader the application serves already is one, and no server starts.
func TestMetricsExporterPrometheus(t *testing.T) {
	freePort := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	for _, withConfig := range []bool{false, true} {
		t.Run(fmt.Sprintf("WithPrometheus=%v", withConfig), func(t *testing.T) {
			clearOTelEnv(t)
			port := freePort(t)
			t.Setenv(envMetricsExporter, "prometheus")
			t.Setenv("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1")
			t.Setenv("OTEL_EXPORTER_PROMETHEUS_PORT", port)
			opts := []Option{WithEndpoint("http://127.0.0.1:1")}
			if withConfig {
				opts = append(opts, WithPrometheus())
			}
			tel := setup(t, opts...)
			recordExecutorLike(t, tel.MeterProvider())
			resp, err := http.Get("http://127.0.0.1:" + port + "/metrics")
			if withConfig {
				if err == nil {
					resp.Body.Close()
					t.Fatal("a second Prometheus server started beside WithPrometheus")
				}
				if !strings.Contains(scrape(t, tel.Prometheus()).Body.String(), "stateful_executor_operations_total") {
					t.Error("WithPrometheus's handler serves no operations")
				}
				return
			}
			if err != nil {
				t.Fatalf("autoexport's Prometheus server: %v", err)
			}
			defer resp.Body.Close()
			fams := parseExposition(t, readAll(t, resp))
			if _, ok := fams["stateful_executor_operations_total"]; !ok {
				t.Errorf("autoexport's /metrics has no operations: %v", keys(fams))
			}
			if s := tel.Stats(); s.MetricExports != 0 {
				t.Errorf("OTLP metrics exported although OTEL_METRICS_EXPORTER=prometheus: %+v", s)
			}
		})
	}
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestConsoleExporters runs this test binary again with
// OTEL_TRACES_EXPORTER=console and OTEL_METRICS_EXPORTER=console (autoexport
// writes to the process's stdout) and reads what it printed.
func TestConsoleExporters(t *testing.T) {
	if os.Getenv("SFOTEL_CONSOLE_HELPER") == "1" {
		tel, err := Setup(context.Background(), WithServiceName("console-test"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		_, s := tel.TracerProvider().Tracer("t").Start(context.Background(), "console-span")
		s.End()
		c, _ := tel.MeterProvider().Meter("t").Int64Counter("console.counter")
		c.Add(context.Background(), 7)
		if err := tel.Shutdown(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		return
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestConsoleExporters$", "-test.count=1")
	cmd.Env = append(env, "SFOTEL_CONSOLE_HELPER=1", envTracesExporter+"=console", envMetricsExporter+"=console")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	for _, want := range []string{`"Name":"console-span"`, `"Name":"console.counter"`, `"Value":7`, `"Value":"console-test"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("console output lacks %s:\n%.3000s", want, out)
		}
	}
}

func TestSetupViewsCardinalityAndExemplars(t *testing.T) {
	t.Run("views", func(t *testing.T) {
		clearOTelEnv(t)
		reader := sdkmetric.NewManualReader()
		rename := sdkmetric.NewView(sdkmetric.Instrument{Name: contract.MetricOperations}, sdkmetric.Stream{Name: "renamed.operations"})
		tel := setup(t, WithReader(reader), WithView(rename))
		recordExecutorLike(t, tel.MeterProvider())
		if _, names := collect(t, reader); !slices.Contains(names, "renamed.operations") || slices.Contains(names, contract.MetricOperations) {
			t.Errorf("WithView not applied: %v", names)
		}
	})

	t.Run("cardinality limit", func(t *testing.T) {
		for _, tc := range []struct {
			cfg, env string
			want     int
			warning  bool
		}{
			{"0", "", DefaultCardinalityLimit, false},
			{"5", "", 5, false},
			{"5", "9", 5, false},
			{"0", "9", 9, false},
			{"0", "-1", 0, false},
			{"0", "lots", DefaultCardinalityLimit, true},
		} {
			t.Run(tc.cfg+"/"+tc.env, func(t *testing.T) {
				clearOTelEnv(t)
				t.Setenv(envCardinalityLimit, tc.env)
				n, _ := strconv.Atoi(tc.cfg)
				reader := sdkmetric.NewManualReader()
				warnings := recordHandled(t)
				tel := setup(t, WithReader(reader), WithCardinalityLimit(n))
				if got := tel.CardinalityLimit(); got != tc.want {
					t.Errorf("CardinalityLimit() = %d, want %d", got, tc.want)
				}
				if w := warnings.about(envCardinalityLimit); (len(w) > 0) != tc.warning {
					t.Errorf("warnings %q", w)
				}
				if tc.want == 0 || tc.want > 100 {
					return
				}
				// The SDK keeps want-1 series and folds the rest into one.
				c, _ := tel.MeterProvider().Meter("t").Int64Counter("wide")
				for i := range 3 * tc.want {
					c.Add(context.Background(), 1, metric.WithAttributes(attribute.Int("i", i)))
				}
				rm, _ := collect(t, reader)
				sum := rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Sum[int64])
				overflow := 0
				for _, dp := range sum.DataPoints {
					if v, ok := dp.Attributes.Value("otel.metric.overflow"); ok && v.AsBool() {
						overflow++
					}
				}
				if len(sum.DataPoints) != tc.want || overflow != 1 {
					t.Errorf("%d series, %d overflow, want %d and 1", len(sum.DataPoints), overflow, tc.want)
				}
			})
		}
		clearOTelEnv(t)
		if _, err := Setup(context.Background(), WithCardinalityLimit(-1)); err == nil || !strings.Contains(err.Error(), "WithCardinalityLimit: must be >= 0") {
			t.Errorf("negative limit: %v", err)
		}
	})

	t.Run("exemplar filter", func(t *testing.T) {
		exemplars := func(t *testing.T, opts []Option, ctx context.Context) int {
			t.Helper()
			reader := sdkmetric.NewManualReader()
			tel := setup(t, append(opts, WithReader(reader))...)
			h, _ := tel.MeterProvider().Meter("t").Float64Histogram("latency", metric.WithUnit("s"))
			if ctx == nil {
				var span trace.Span
				ctx, span = tel.TracerProvider().Tracer("t").Start(context.Background(), "op")
				defer span.End()
			}
			h.Record(ctx, 0.002)
			rm, _ := collect(t, reader)
			n := 0
			for _, dp := range rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Histogram[float64]).DataPoints {
				n += len(dp.Exemplars)
			}
			return n
		}
		clearOTelEnv(t)
		bg := context.Background()
		if n := exemplars(t, nil, nil); n != 1 {
			t.Errorf("default filter, sampled span: %d exemplars, want 1", n)
		}
		if n := exemplars(t, nil, bg); n != 0 {
			t.Errorf("default filter, no span: %d exemplars, want 0", n)
		}
		if n := exemplars(t, []Option{WithExemplarFilter(exemplar.AlwaysOnFilter)}, bg); n != 1 {
			t.Errorf("AlwaysOnFilter, no span: %d exemplars, want 1", n)
		}
		if n := exemplars(t, []Option{WithExemplarFilter(exemplar.AlwaysOffFilter)}, nil); n != 0 {
			t.Errorf("AlwaysOffFilter, sampled span: %d exemplars, want 0", n)
		}
		t.Setenv("OTEL_METRICS_EXEMPLAR_FILTER", "always_off")
		if n := exemplars(t, nil, nil); n != 0 {
			t.Errorf("OTEL_METRICS_EXEMPLAR_FILTER=always_off: %d exemplars", n)
		}
		if n := exemplars(t, []Option{WithExemplarFilter(exemplar.TraceBasedFilter)}, nil); n != 1 {
			t.Errorf("WithExemplarFilter must win over the variable: %d exemplars", n)
		}
	})
}

// TestRuntimeMetricsGoToOTLPOnly: the Go runtime metrics reach the
// collector, and neither /metrics nor WithReader gets them, so /metrics
// keeps one set of Go series (client_golang's go_*).
func TestRuntimeMetricsGoToOTLPOnly(t *testing.T) {
	runtimeNames := []string{"go.goroutine.count", "go.memory.used", "go.memory.allocated", "go.schedule.duration"}
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableRuntimeMetrics=%v", disable), func(t *testing.T) {
			clearOTelEnv(t)
			r := otlptest.Start(t)
			reader := sdkmetric.NewManualReader()
			opts := []Option{WithEndpoint(r.HTTPEndpoint()), WithMetricInterval(time.Hour), WithPrometheus(), WithReader(reader)}
			if disable {
				opts = append(opts, WithoutRuntimeMetrics())
			}
			tel := setup(t, opts...)
			recordExecutorLike(t, tel.MeterProvider())
			if err := tel.ForceFlush(ctxTimeout(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
			got := r.MetricNames()
			for _, name := range runtimeNames {
				if slices.Contains(got, name) == disable {
					t.Errorf("OTLP has %s: %v, want %v", name, !disable, !disable)
				}
			}
			if !slices.Contains(got, contract.MetricOperations) {
				t.Errorf("OTLP lacks the executor's metrics: %v", got)
			}
			for _, m := range r.Metrics() {
				if strings.HasPrefix(m.Name, "go.") {
					if v, _ := otlptest.Attr(m.Resource.GetAttributes(), "service.name"); v == "" {
						t.Errorf("%s has no service.name in its resource", m.Name)
					}
				}
			}
			if _, names := collect(t, reader); slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "go.") }) {
				t.Errorf("WithReader got runtime metrics: %v", names)
			}
			fams := parseExposition(t, scrape(t, tel.Prometheus()).Body.Bytes())
			if _, ok := fams["go_goroutines"]; !ok {
				t.Error("/metrics lacks client_golang's go_goroutines")
			}
			for _, dup := range []string{"go_goroutine_count", "go_memory_used_bytes", "go_schedule_duration_seconds"} {
				if _, ok := fams[dup]; ok {
					t.Errorf("/metrics has %s beside go_goroutines: the runtime facts twice", dup)
				}
			}
		})
	}
}

// TestScopeNameAndVersion: the exporters' own metric carries the exported
// scope.
func TestScopeNameAndVersion(t *testing.T) {
	clearOTelEnv(t)
	if ScopeName != "github.com/statefulroute/sfotel/exporters" || Version != contract.Version {
		t.Fatalf("ScopeName %q, Version %q", ScopeName, Version)
	}
	r := otlptest.Start(t)
	tel := setup(t, WithEndpoint(r.HTTPEndpoint()), WithMetricInterval(time.Hour), WithoutRuntimeMetrics())
	if err := tel.ForceFlush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, m := range r.Metrics() {
		if m.Name == contract.MetricExporterSpansDropped {
			if m.Scope.GetName() != ScopeName || m.Scope.GetVersion() != Version {
				t.Errorf("scope %q %q", m.Scope.GetName(), m.Scope.GetVersion())
			}
			return
		}
	}
	t.Fatalf("no %s among %v", contract.MetricExporterSpansDropped, r.MetricNames())
}
