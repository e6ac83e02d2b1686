package exporters_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/statefulroute/sfotel/exporters"
	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/redisinstr"
)

// TestScrapeAfterExecutorTraffic drives the real executor and Redis
// instrumentation against a real Redis, scrapes the Prometheus handler
// Setup built, and checks the five dashboard names: type, label set and
// values that follow from the traffic.
func TestScrapeAfterExecutorTraffic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tel, err := exporters.Setup(ctx, exporters.WithServiceName("scrape-test"), exporters.WithPrometheus(), exporters.WithoutOTLP())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := tel.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()

	rdb := redistest.Client(t)
	inst, err := redisinstr.Instrument(rdb, redisinstr.WithMeterProvider(tel.MeterProvider()), redisinstr.WithTracerProvider(tel.TracerProvider()))
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	e, err := otelexec.New(rdb, otelexec.WithMeterProvider(tel.MeterProvider()), otelexec.WithTracerProvider(tel.TracerProvider()))
	if err != nil {
		t.Fatal(err)
	}
	ns := redistest.Namespace(t)

	const sets, gets, rejected = 5, 3, 2
	for i := range sets {
		if _, err := e.SetLinkedPod(ctx, ns, "user-"+string(rune('a'+i)), "svc", i, -1); err != nil {
			t.Fatal(err)
		}
	}
	for range gets {
		if _, err := e.GetLinkedPod(ctx, ns, "user-a", "svc"); err != nil {
			t.Fatal(err)
		}
	}
	for range rejected {
		if _, err := e.GetLinkedPod(ctx, ns, "", "svc"); !errors.Is(err, otelexec.ErrInvalidArgument) {
			t.Fatalf("empty uid: %v", err)
		}
	}

	rec := httptest.NewRecorder()
	tel.Prometheus().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d", rec.Code)
	}
	body := rec.Body.Bytes()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}

	set, get := contract.OpSetLinkedPod.String(), contract.OpGetLinkedPod.String()
	checkFamily(t, fams, "stateful_executor_operations_total", dto.MetricType_COUNTER, "operation,status")
	wantValue(t, fams, "stateful_executor_operations_total", map[string]string{"operation": set, "status": "ok"}, sets)
	wantValue(t, fams, "stateful_executor_operations_total", map[string]string{"operation": get, "status": "ok"}, gets)
	wantValue(t, fams, "stateful_executor_operations_total", map[string]string{"operation": get, "status": "error"}, rejected)

	checkFamily(t, fams, "stateful_executor_errors_total", dto.MetricType_COUNTER, "error_type,operation")
	wantValue(t, fams, "stateful_executor_errors_total", map[string]string{"operation": get, "error_type": contract.ErrorInvalidArgument.String()}, rejected)

	checkFamily(t, fams, "stateful_executor_operation_duration_seconds", dto.MetricType_HISTOGRAM, "operation")
	h := find(t, fams, "stateful_executor_operation_duration_seconds", map[string]string{"operation": set}).GetHistogram()
	if h.GetSampleCount() != sets || h.GetSampleSum() <= 0 || h.GetSampleSum() > 10 {
		t.Errorf("SetLinkedPod duration: count %d sum %v s", h.GetSampleCount(), h.GetSampleSum())
	}

	checkFamily(t, fams, "stateful_executor_cache_hit_ratio", dto.MetricType_GAUGE, "cache_type")
	if v := find(t, fams, "stateful_executor_cache_hit_ratio", map[string]string{"cache_type": "script"}).GetGauge().GetValue(); v != 1 {
		t.Errorf("script cache hit ratio %v, want 1 (scripts preloaded, no NOSCRIPT)", v)
	}

	checkFamily(t, fams, "stateful_executor_redis_connection_status", dto.MetricType_GAUGE, "")
	if v := find(t, fams, "stateful_executor_redis_connection_status", map[string]string{"status": "up"}).GetGauge().GetValue(); v != 1 {
		t.Errorf("status up = %v", v)
	}
	if v := find(t, fams, "stateful_executor_redis_connection_status", map[string]string{"status": "down"}).GetGauge().GetValue(); v != 0 {
		t.Errorf("status down = %v", v)
	}

	problems, err := testutil.GatherAndLint(tel.Prometheus().Gatherer())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if line := p.Metric + " " + p.Text; !acceptedLint[line] {
			t.Errorf("lint: %s", line)
		}
	}
}

// acceptedLint lists the linter's findings that follow from the OTel
// semantic conventions, which docs/telemetry.md makes the contract for Redis pool
// metrics: db.client.connection.count becomes db_client_connection_count,
// the name an OTel Collector or Prometheus's own OTLP ingestion gives it
// too, and promtool reserves _count for histograms and summaries.
var acceptedLint = map[string]bool{
	`db_client_connection_count non-histogram and non-summary metrics should not have "_count" suffix`: true,
}

// checkFamily checks the type and, unless labels is "", that every series
// has exactly the given comma-separated, sorted label names.
func checkFamily(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, labels string) {
	t.Helper()
	fam, ok := fams[name]
	if !ok {
		t.Errorf("%s missing", name)
		return
	}
	if fam.GetType() != typ {
		t.Errorf("%s: type %v, want %v", name, fam.GetType(), typ)
	}
	if labels == "" {
		return
	}
	for _, m := range fam.GetMetric() {
		var names []string
		for _, l := range m.GetLabel() {
			names = append(names, l.GetName())
		}
		sort.Strings(names)
		if got := strings.Join(names, ","); got != labels {
			t.Errorf("%s: labels %s, want %s", name, got, labels)
		}
	}
}

// find returns the series of name whose labels include want.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	for _, m := range fams[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if have[k] != v {
				match = false
			}
		}
		if match {
			return m
		}
	}
	t.Fatalf("%s: no series with %v", name, want)
	return nil
}

func wantValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string, want float64) {
	t.Helper()
	if v := find(t, fams, name, labels).GetCounter().GetValue(); v != want {
		t.Errorf("%s%v = %v, want %v", name, labels, v, want)
	}
}
