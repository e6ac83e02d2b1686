package otelexec

import (
	"bufio"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// TestPrometheusNames scrapes a real OTel Prometheus exporter, on a registry
// of its own, and checks that the executor's instruments come out under the
// names that dashboards query.
func TestPrometheusNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	t.Cleanup(func() { _ = mp.Shutdown(testContext(t)) })
	e, _, ns := newTestExecutor(t, WithMeterProvider(mp))
	ctx := testContext(t)
	// Twice: the first call sends the script's source (EVAL), the second
	// runs it by EVALSHA, a script cache hit.
	for range 2 {
		if _, err := e.SetLinkedPod(ctx, ns, "u", "svc", 1, PersistForever); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.GetLinkedPod(ctx, ns, "", "svc"); err == nil {
		t.Fatal("empty uid accepted")
	}

	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	var names []string
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "stateful_executor_") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	want := []string{
		"stateful_executor_cache_hit_ratio",
		"stateful_executor_errors_total",
		"stateful_executor_operation_duration_seconds_bucket",
		"stateful_executor_operation_duration_seconds_count",
		"stateful_executor_operation_duration_seconds_sum",
		"stateful_executor_operations_total",
		"stateful_executor_script_cache_hits_total",
		"stateful_executor_script_cache_misses_total",
		"stateful_executor_script_cache_reloads_total",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("exposed names:\n  %s\nwant:\n  %s", strings.Join(names, "\n  "), strings.Join(want, "\n  "))
	}
	for _, series := range []string{
		`stateful_executor_cache_hit_ratio{cache_type="script"`,
		`stateful_executor_operations_total{operation="SetLinkedPod",otel_scope_name="` + ScopeName + `"`,
		`stateful_executor_errors_total{error_type="invalid_argument",operation="GetLinkedPod"`,
		`stateful_executor_operation_duration_seconds_bucket{operation="SetLinkedPod"`,
	} {
		if !strings.Contains(body, series) {
			t.Errorf("scrape lacks %s", series)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}
