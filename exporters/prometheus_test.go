package exporters

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/statefulroute/sfotel/internal/contract"
)

// recordExecutorLike records on mp what the executor and redisinstr record,
// under the contract's names and units: 3 ok and 1 failed SetLinkedPod, the
// failure a timeout, three durations, a script cache hit ratio of 0.75 and
// connection status up.
func recordExecutorLike(t *testing.T, mp metric.MeterProvider) {
	t.Helper()
	m := mp.Meter("github.com/statefulroute/sfotel/otelexec")
	ops, err := m.Int64Counter(contract.MetricOperations, metric.WithUnit(contract.UnitOperations), metric.WithDescription("Executor operations."))
	if err != nil {
		t.Fatal(err)
	}
	dur, err := m.Float64Histogram(contract.MetricOperationDuration, metric.WithUnit("s"), metric.WithDescription("Operation duration."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01))
	if err != nil {
		t.Fatal(err)
	}
	errs, err := m.Int64Counter(contract.MetricErrors, metric.WithUnit(contract.ErrorsCounter.Unit), metric.WithDescription("Failed operations."))
	if err != nil {
		t.Fatal(err)
	}
	ratio, err := m.Float64ObservableGauge(contract.MetricCacheHitRatio, metric.WithUnit(contract.CacheHitRatio.Unit), metric.WithDescription("Cache hits / lookups."))
	if err != nil {
		t.Fatal(err)
	}
	status, err := m.Int64ObservableGauge(contract.MetricConnectionStatus, metric.WithDescription("1 on the current status."))
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveFloat64(ratio, 0.75, metric.WithAttributes(attribute.String(contract.AttrCacheType, contract.CacheScript)))
		o.ObserveInt64(status, 1, metric.WithAttributes(attribute.String(contract.AttrStatus, contract.StatusUp)))
		o.ObserveInt64(status, 0, metric.WithAttributes(attribute.String(contract.AttrStatus, contract.StatusDown)))
		return nil
	}, ratio, status)
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	ok := metric.WithAttributes(attribute.String(contract.AttrOperation, contract.OpSetLinkedPod.String()), attribute.String(contract.AttrStatus, contract.StatusOK))
	bad := metric.WithAttributes(attribute.String(contract.AttrOperation, contract.OpSetLinkedPod.String()), attribute.String(contract.AttrStatus, contract.StatusError))
	op := metric.WithAttributes(attribute.String(contract.AttrOperation, contract.OpSetLinkedPod.String()))
	ops.Add(ctx, 3, ok)
	ops.Add(ctx, 1, bad)
	errs.Add(ctx, 1, metric.WithAttributes(attribute.String(contract.AttrOperation, contract.OpSetLinkedPod.String()), attribute.String(contract.AttrErrorType, contract.ErrorTimeout.String())))
	for _, s := range []float64{0.001, 0.002, 0.003} {
		dur.Record(ctx, s, op)
	}
}

// scrape GETs h and returns the body.
func scrape(t *testing.T, h http.Handler, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func parseExposition(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, body)
	}
	return fams
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// series returns the one metric of fam whose labels are exactly want.
func series(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, want map[string]string) *dto.Metric {
	t.Helper()
	fam, ok := fams[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
	if fam.GetType() != typ {
		t.Fatalf("%s: type %v, want %v", name, fam.GetType(), typ)
	}
	for _, m := range fam.GetMetric() {
		got := labelsOf(m)
		if len(got) != len(want) {
			continue
		}
		match := true
		for k, v := range want {
			if got[k] != v {
				match = false
			}
		}
		if match {
			return m
		}
	}
	var sets []map[string]string
	for _, m := range fam.GetMetric() {
		sets = append(sets, labelsOf(m))
	}
	t.Fatalf("%s: no series with labels %v; have %v", name, want, sets)
	return nil
}

func newPromProvider(t *testing.T, opts ...Option) (*Prometheus, *sdkmetric.MeterProvider) {
	t.Helper()
	p, err := NewPrometheus(opts...)
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "prom-test"))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(p), sdkmetric.WithResource(res))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return p, mp
}

func TestPrometheusContractNames(t *testing.T) {
	p, mp := newPromProvider(t)
	recordExecutorLike(t, mp)

	rec := scrape(t, p)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	fams := parseExposition(t, rec.Body.Bytes())

	op := contract.OpSetLinkedPod.String()
	if v := series(t, fams, "stateful_executor_operations_total", dto.MetricType_COUNTER,
		map[string]string{"operation": op, "status": "ok"}).GetCounter().GetValue(); v != 3 {
		t.Errorf("operations ok = %v, want 3", v)
	}
	if v := series(t, fams, "stateful_executor_operations_total", dto.MetricType_COUNTER,
		map[string]string{"operation": op, "status": "error"}).GetCounter().GetValue(); v != 1 {
		t.Errorf("operations error = %v, want 1", v)
	}
	if v := series(t, fams, "stateful_executor_errors_total", dto.MetricType_COUNTER,
		map[string]string{"operation": op, "error_type": "timeout"}).GetCounter().GetValue(); v != 1 {
		t.Errorf("errors = %v, want 1", v)
	}
	h := series(t, fams, "stateful_executor_operation_duration_seconds", dto.MetricType_HISTOGRAM,
		map[string]string{"operation": op}).GetHistogram()
	if h.GetSampleCount() != 3 || h.GetSampleSum() < 0.0059 || h.GetSampleSum() > 0.0061 {
		t.Errorf("duration count %d sum %v, want 3 and 0.006", h.GetSampleCount(), h.GetSampleSum())
	}
	if v := series(t, fams, "stateful_executor_cache_hit_ratio", dto.MetricType_GAUGE,
		map[string]string{"cache_type": "script"}).GetGauge().GetValue(); v != 0.75 {
		t.Errorf("cache hit ratio = %v, want 0.75", v)
	}
	if v := series(t, fams, "stateful_executor_redis_connection_status", dto.MetricType_GAUGE,
		map[string]string{"status": "up"}).GetGauge().GetValue(); v != 1 {
		t.Errorf("status up = %v, want 1", v)
	}
	if v := series(t, fams, "stateful_executor_redis_connection_status", dto.MetricType_GAUGE,
		map[string]string{"status": "down"}).GetGauge().GetValue(); v != 0 {
		t.Errorf("status down = %v, want 0", v)
	}

	// Resource attributes go to target_info, not onto every series.
	if v := labelsOf(series(t, fams, "target_info", dto.MetricType_GAUGE,
		map[string]string{"service_name": "prom-test"}))["service_name"]; v != "prom-test" {
		t.Errorf("target_info service_name = %q", v)
	}
	for _, want := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := fams[want]; !ok {
			t.Errorf("default collectors: %s missing", want)
		}
	}
	// Never on the global registry.
	global, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range global {
		if strings.HasPrefix(f.GetName(), "stateful_executor_") {
			t.Errorf("%s leaked onto the default registry", f.GetName())
		}
	}
}

func TestOptions(t *testing.T) {
	p, mp := newPromProvider(t, WithGoCollector(false), WithProcessCollector(false), WithScopeLabels(true), WithTargetInfo(false), WithNamespace("team"))
	recordExecutorLike(t, mp)
	fams := parseExposition(t, scrape(t, p).Body.Bytes())
	for name := range fams {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || name == "target_info" {
			t.Errorf("%s present although turned off", name)
		}
	}
	m := series(t, fams, "team_stateful_executor_errors_total", dto.MetricType_COUNTER, map[string]string{
		"operation": contract.OpSetLinkedPod.String(), "error_type": "timeout",
		"otel_scope_name": "github.com/statefulroute/sfotel/otelexec", "otel_scope_version": "", "otel_scope_schema_url": "",
	})
	if m.GetCounter().GetValue() != 1 {
		t.Errorf("value %v", m.GetCounter().GetValue())
	}
	// The toggles turn back off (the last option wins).
	p, mp = newPromProvider(t, WithScopeLabels(true), WithScopeLabels(false), WithTargetInfo(false), WithTargetInfo(true))
	recordExecutorLike(t, mp)
	fams = parseExposition(t, scrape(t, p).Body.Bytes())
	if _, ok := fams["target_info"]; !ok {
		t.Error("WithTargetInfo(true) after false: no target_info")
	}
	series(t, fams, "stateful_executor_errors_total", dto.MetricType_COUNTER, map[string]string{"operation": contract.OpSetLinkedPod.String(), "error_type": "timeout"})
}

// TestPrometheusRejectsBadOptions: every invalid value is an error that
// names its option, never a silent default.
func TestPrometheusRejectsBadOptions(t *testing.T) {
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"team": "routing"}, prometheus.NewRegistry())
	for _, tc := range []struct {
		opts []Option
		want string
	}{
		{[]Option{WithScrapeLimits(-1, time.Second)}, "exporters: WithScrapeLimits: maxInFlight must be > 0, got -1"},
		{[]Option{WithScrapeLimits(4, 0)}, "WithScrapeLimits: timeout must be > 0, got 0s"},
		{[]Option{WithNamespace("my-team")}, `WithNamespace: "my-team"`},
		{[]Option{WithNamespace("1team")}, `WithNamespace: "1team"`},
		{[]Option{WithRegisterer(wrapped)}, "WithRegisterer: "},
		{[]Option{WithGatherer(prometheus.NewRegistry())}, "WithGatherer: needs WithRegisterer"},
	} {
		if _, err := NewPrometheus(tc.opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewPrometheus = %v, want an error containing %q", err, tc.want)
		}
	}
	// And through Setup.
	if _, err := Setup(context.Background(), WithPrometheus(), WithScrapeLimits(0, 0)); err == nil || !strings.Contains(err.Error(), "WithScrapeLimits") {
		t.Errorf("Setup with a bad Prometheus option: %v", err)
	}
}

// TestPrometheusRegistererAndGatherer: any Registerer, with the Gatherer
// that serves it, as client_golang's own handlers take them.
func TestPrometheusRegistererAndGatherer(t *testing.T) {
	reg := prometheus.NewRegistry()
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"team": "routing"}, reg)
	p, mp := newPromProvider(t, WithRegisterer(wrapped), WithGatherer(reg), WithGoCollector(false), WithProcessCollector(false))
	recordExecutorLike(t, mp)
	if p.Registerer() != wrapped || p.Gatherer() != prometheus.Gatherer(reg) {
		t.Errorf("Registerer %v, Gatherer %v", p.Registerer(), p.Gatherer())
	}
	fams := parseExposition(t, scrape(t, p).Body.Bytes())
	series(t, fams, "stateful_executor_errors_total", dto.MetricType_COUNTER,
		map[string]string{"operation": contract.OpSetLinkedPod.String(), "error_type": "timeout", "team": "routing"})

	// nil, typed or not, is ignored: the exporter gets a registry of its own.
	p, mp = newPromProvider(t, WithRegisterer(nil), WithRegisterer((*prometheus.Registry)(nil)), WithGatherer(nil))
	recordExecutorLike(t, mp)
	if reg, ok := p.Registerer().(*prometheus.Registry); !ok || reg == prometheus.DefaultRegisterer || p.Gatherer() != prometheus.Gatherer(reg) {
		t.Errorf("nil registerers: Registerer() = %v, Gatherer() = %v", p.Registerer(), p.Gatherer())
	}
	if _, ok := parseExposition(t, scrape(t, p).Body.Bytes())["stateful_executor_operations_total"]; !ok {
		t.Error("nothing served with nil registerers")
	}
}

func TestPrometheusTwoInstancesAndSharedRegistry(t *testing.T) {
	// Two exporters on private registries never collide.
	_, mp1 := newPromProvider(t)
	p2, mp2 := newPromProvider(t)
	recordExecutorLike(t, mp1)
	recordExecutorLike(t, mp2)
	fams := parseExposition(t, scrape(t, p2).Body.Bytes())
	if _, ok := fams["stateful_executor_operations_total"]; !ok {
		t.Fatal("second instance serves nothing")
	}

	// A caller's registry serves its own collectors beside the OTel ones.
	reg := prometheus.NewRegistry()
	own := prometheus.NewCounter(prometheus.CounterOpts{Name: "app_own_total", Help: "own"})
	reg.MustRegister(own)
	own.Add(2)
	p, mp := newPromProvider(t, WithRegisterer(reg), WithGoCollector(false), WithProcessCollector(false))
	if p.Registerer() != prometheus.Registerer(reg) || p.Gatherer() != prometheus.Gatherer(reg) {
		t.Fatal("Registerer() or Gatherer() is not the registry given")
	}
	recordExecutorLike(t, mp)
	fams = parseExposition(t, scrape(t, p).Body.Bytes())
	if fams["app_own_total"].GetMetric()[0].GetCounter().GetValue() != 2 {
		t.Error("own collector missing")
	}
	if _, ok := fams["stateful_executor_operations_total"]; !ok {
		t.Error("OTel metrics missing from the shared registry")
	}
}

// TestPrometheusOpenMetricsNegotiation: a scraper that asks for OpenMetrics
// gets it by default, with the exemplars of the histogram buckets; one that
// does not (or a handler with WithOpenMetricsFormat(false)) gets the classic
// text format, without them.
func TestPrometheusOpenMetricsNegotiation(t *testing.T) {
	const accept, om = "Accept", "application/openmetrics-text;version=1.0.0"
	// record measures one call under a sampled span and returns the
	// handler and the span's trace ID.
	record := func(t *testing.T, opts ...Option) (*Prometheus, string) {
		t.Helper()
		p, err := NewPrometheus(opts...)
		if err != nil {
			t.Fatal(err)
		}
		tp := sdktrace.NewTracerProvider()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(p))
		t.Cleanup(func() { _ = mp.Shutdown(context.Background()); _ = tp.Shutdown(context.Background()) })
		h, err := mp.Meter(contract.ScopeExecutor).Float64Histogram(contract.MetricOperationDuration, metric.WithUnit("s"),
			metric.WithExplicitBucketBoundaries(0.001, 0.01, 1, 5))
		if err != nil {
			t.Fatal(err)
		}
		// A sampled span's measurement becomes the bucket's exemplar.
		ctx, span := tp.Tracer("t").Start(context.Background(), contract.OpGetLinkedPod.String())
		h.Record(ctx, 0.004, metric.WithAttributes(attribute.String(contract.AttrOperation, contract.OpGetLinkedPod.String())))
		span.End()
		return p, span.SpanContext().TraceID().String()
	}

	for _, tc := range []struct {
		name       string
		opts       []Option
		header     []string
		openMetric bool
	}{
		{"default, OpenMetrics asked", nil, []string{accept, om}, true},
		{"default, nothing asked", nil, nil, false},
		{"WithOpenMetricsFormat(false)", []Option{WithOpenMetricsFormat(false)}, []string{accept, om}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, exemplarTrace := record(t, tc.opts...)
			rec := scrape(t, p, tc.header...)
			body := rec.Body.String()
			ct := rec.Header().Get("Content-Type")
			if strings.Contains(ct, "openmetrics") != tc.openMetric {
				t.Fatalf("Content-Type %s, want OpenMetrics: %v", ct, tc.openMetric)
			}
			// The exemplar's labels (trace_id, span_id) come in no fixed order.
			exemplarOn := func(le string) *regexp.Regexp {
				return regexp.MustCompile(`le="` + regexp.QuoteMeta(le) + `"\} 1 # \{[^}]*trace_id="` + exemplarTrace + `"`)
			}
			hasExemplar := regexp.MustCompile(`# \{[^}]*trace_id="` + exemplarTrace + `"`).MatchString(body)
			if hasExemplar != tc.openMetric || strings.Contains(body, "# EOF") != tc.openMetric {
				t.Fatalf("exemplar with the span's trace ID: %v, # EOF: %v, want %v:\n%s", hasExemplar, strings.Contains(body, "# EOF"), tc.openMetric, body)
			}
			// The bucket the measurement fell in carries it; integer
			// bounds are written 1.0 in OpenMetrics, 1 in the text format.
			if tc.openMetric && (!exemplarOn("0.01").MatchString(body) || !strings.Contains(body, `le="1.0"`)) {
				t.Errorf("OpenMetrics buckets:\n%s", body)
			}
			if !tc.openMetric && !strings.Contains(body, `le="1"`) {
				t.Errorf("text format buckets:\n%s", body)
			}
		})
	}
}

// TestLintMetrics runs Prometheus's metric linter (promlint, what promtool
// check metrics runs) on what the handler serves: any finding fails.
func TestLintMetrics(t *testing.T) {
	p, mp := newPromProvider(t)
	recordExecutorLike(t, mp)
	problems, err := testutil.GatherAndLint(p.Gatherer())
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		t.Errorf("lint: %s %s", pr.Metric, pr.Text)
	}
}

// TestGoCollectorRuntimeMetrics: /metrics carries the runtime histograms
// and GC CPU time the fleet report's diagnosis reads.
func TestGoCollectorRuntimeMetrics(t *testing.T) {
	p, err := NewPrometheus(WithProcessCollector(false))
	if err != nil {
		t.Fatal(err)
	}
	fams := parseExposition(t, scrape(t, p).Body.Bytes())
	for name, typ := range map[string]dto.MetricType{
		"go_sched_latencies_seconds":                         dto.MetricType_HISTOGRAM,
		"go_sched_pauses_total_gc_seconds":                   dto.MetricType_HISTOGRAM,
		"go_cpu_classes_total_cpu_seconds_total":             dto.MetricType_COUNTER,
		"go_cpu_classes_idle_cpu_seconds_total":              dto.MetricType_COUNTER,
		"go_cpu_classes_gc_mark_assist_cpu_seconds_total":    dto.MetricType_COUNTER,
		"go_cpu_classes_gc_mark_idle_cpu_seconds_total":      dto.MetricType_COUNTER,
		"go_cpu_classes_gc_mark_dedicated_cpu_seconds_total": dto.MetricType_COUNTER,
		"go_cpu_classes_gc_pause_cpu_seconds_total":          dto.MetricType_COUNTER,
		"go_gc_cycles_total_gc_cycles_total":                 dto.MetricType_COUNTER,
		"go_gc_heap_live_bytes":                              dto.MetricType_GAUGE,
		"go_gc_gogc_percent":                                 dto.MetricType_GAUGE,
		"go_goroutines":                                      dto.MetricType_GAUGE,
	} {
		if f, ok := fams[name]; !ok || f.GetType() != typ {
			t.Errorf("%s: %v, want a %v", name, f.GetType(), typ)
		}
	}
}
