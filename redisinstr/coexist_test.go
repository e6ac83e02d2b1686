package redisinstr_test

import (
	"context"
	"log"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/go-logr/stdr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/redisinstr"
)

// captureOTelComplaints routes the OTel error handler and the OTel internal
// logger (where the SDK writes duplicate-instrument warnings) into a slice
// for the rest of the test. Not parallel: both are process globals.
func captureOTelComplaints(t *testing.T) func() []string {
	var (
		mu  sync.Mutex
		got []string
	)
	add := func(s string) {
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
	}
	prevHandler := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { add("error handler: " + err.Error()) }))
	// Verbosity 1 shows warnings (the SDK logs them at V(1)); the level-0
	// info lines the SDK never writes for these calls would show too.
	otel.SetLogger(funcr.New(func(prefix, args string) { add("logger: " + prefix + " " + args) }, funcr.Options{Verbosity: 1}))
	t.Cleanup(func() {
		otel.SetErrorHandler(prevHandler)
		otel.SetLogger(stdr.New(log.New(os.Stderr, "", log.LstdFlags|log.Lshortfile)))
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// TestCoexistsWithExecutor puts the executor's and this package's
// instruments (two Instrumentations, one per client) on one MeterProvider
// with a Prometheus exporter: no warning, no error, and the dashboard names
// of both come out.
func TestCoexistsWithExecutor(t *testing.T) {
	complaints := captureOTelComplaints(t)
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })

	c := redistest.Client(t)
	other := redis.NewClient(&redis.Options{Addr: c.Options().Addr, DB: 1})
	t.Cleanup(func() { _ = other.Close() })
	for _, rdb := range []*redis.Client{c, other} {
		inst, err := redisinstr.Instrument(rdb, redisinstr.WithMeterProvider(mp), redisinstr.WithPoolName("db"+strconv.Itoa(rdb.Options().DB)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = inst.Close() })
	}
	e, err := otelexec.New(c, otelexec.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ns := redistest.Namespace(t)
	if err := e.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetLinkedPod(ctx, ns, "u1", "svc", 3, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetLinkedPod(ctx, ns, "u1", "svc"); err != nil {
		t.Fatal(err)
	}

	if _, err := reg.Gather(); err != nil {
		t.Fatalf("Prometheus gather: %v", err)
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, series := range []string{
		`stateful_executor_cache_hit_ratio{cache_type="script"`,
		`stateful_executor_redis_connection_status{db_client_connection_pool_name="db0",otel_scope_name="` + redisinstr.ScopeName + `",otel_scope_schema_url="",otel_scope_version="` + redisinstr.Version + `",status="up"} 1`,
		`stateful_executor_redis_connection_status{db_client_connection_pool_name="db0",otel_scope_name="` + redisinstr.ScopeName + `",otel_scope_schema_url="",otel_scope_version="` + redisinstr.Version + `",status="down"} 0`,
		`stateful_executor_redis_connection_status{db_client_connection_pool_name="db1",otel_scope_name="` + redisinstr.ScopeName + `",otel_scope_schema_url="",otel_scope_version="` + redisinstr.Version + `",status="up"} 1`,
		`stateful_executor_redis_ping_duration_seconds_bucket{`,
		`db_client_connection_count{db_client_connection_pool_name="db0",db_client_connection_state="idle"`,
		`db_client_connection_count{db_client_connection_pool_name="db1",db_client_connection_state="used"`,
		`db_client_operation_duration_seconds_bucket{db_namespace="0",db_operation_name="EVALSHA"`, // the executor's client, database 0
	} {
		if !strings.Contains(body, series) {
			t.Errorf("scrape lacks %s", series)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
	if got := complaints(); len(got) != 0 {
		t.Errorf("OTel complained:\n%s", strings.Join(got, "\n"))
	}

	// The capture works: a conflicting instrument in our scope is reported.
	if _, err := mp.Meter(redisinstr.ScopeName, metric.WithInstrumentationVersion(redisinstr.Version)).Int64Counter(contract.MetricPoolMax); err != nil {
		t.Fatal(err)
	}
	if got := complaints(); len(got) == 0 {
		t.Error("a conflicting instrument caused no warning: the capture sees nothing")
	}
}
