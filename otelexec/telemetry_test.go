package otelexec

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/metrictest"
	"github.com/statefulroute/sfotel/internal/redistest"
)

type instrumented struct {
	*Executor
	reader   *sdkmetric.ManualReader
	recorder *tracetest.SpanRecorder
}

func newInstrumented(t testing.TB, opts ...Option) (instrumented, string) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	recorder := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()); _ = tp.Shutdown(context.Background()) })
	e, _, ns := newTestExecutor(t, append([]Option{WithMeterProvider(mp), WithTracerProvider(tp)}, opts...)...)
	return instrumented{e, reader, recorder}, ns
}

func (in instrumented) collect(t testing.TB) metricdata.ResourceMetrics {
	t.Helper()
	return metrictest.Collect(t, in.reader)
}

// findMetric returns the named metric of the executor's scope.
func findMetric(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	return metrictest.Find(rm, ScopeName, name)
}

// sumOf returns the int64 sum point whose attributes are exactly kvs.
func sumOf(t testing.TB, rm metricdata.ResourceMetrics, name string, kvs ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := findMetric(rm, name)
	if !ok {
		return 0
	}
	want := attribute.NewSet(kvs...)
	for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if p.Attributes.Equals(&want) {
			return p.Value
		}
	}
	return 0
}

func histogramCount(t testing.TB, rm metricdata.ResourceMetrics, kvs ...attribute.KeyValue) uint64 {
	t.Helper()
	m, ok := findMetric(rm, contract.MetricOperationDuration)
	if !ok {
		t.Fatalf("no %s metric", contract.MetricOperationDuration)
	}
	want := attribute.NewSet(kvs...)
	for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
		if p.Attributes.Equals(&want) {
			return p.Count
		}
	}
	return 0
}

const secretUID = "user-secret-4242"

// opCalls is, for every operation, one call that succeeds and one that is
// rejected as invalid.
func opCalls(e *Executor, ns string) map[contract.Op][2]func(context.Context) error {
	u, s := secretUID, "svc"
	return map[contract.Op][2]func(context.Context) error{
		contract.OpSetServiceState: {
			func(ctx context.Context) error {
				return e.SetServiceState(ctx, ns, s, 1, FormatPodState(1, time.Now()))
			},
			func(ctx context.Context) error { return e.SetServiceState(ctx, ns, s, -1, "x") },
		},
		contract.OpGetServiceState: {
			func(ctx context.Context) error { _, err := e.GetServiceState(ctx, ns, s); return err },
			func(ctx context.Context) error { _, err := e.GetServiceState(ctx, ns, ""); return err },
		},
		contract.OpSetWorkloadState: {
			func(ctx context.Context) error { return e.SetWorkloadState(ctx, ns, s, "w") },
			func(ctx context.Context) error { return e.SetWorkloadState(ctx, ns, s, "") },
		},
		contract.OpGetWorkloadState: {
			func(ctx context.Context) error { _, err := e.GetWorkloadState(ctx, ns, s); return err },
			func(ctx context.Context) error { _, err := e.GetWorkloadState(ctx, "a:b", s); return err },
		},
		contract.OpGetWorkloadStateBatch: {
			func(ctx context.Context) error {
				_, err := e.GetWorkloadStateBatch(ctx, ns, []string{s, "x"})
				return err
			},
			func(ctx context.Context) error {
				_, err := e.GetWorkloadStateBatch(ctx, ns, []string{s, "{"})
				return err
			},
		},
		contract.OpSetLinkedPod: {
			func(ctx context.Context) error { _, err := e.SetLinkedPod(ctx, ns, u, s, 1, -1); return err },
			func(ctx context.Context) error { _, err := e.SetLinkedPod(ctx, ns, u, s, 1, 0); return err },
		},
		contract.OpTrySetLinkedPod: {
			func(ctx context.Context) error { _, _, err := e.TrySetLinkedPod(ctx, ns, u, s, 1, -1); return err },
			func(ctx context.Context) error { _, _, err := e.TrySetLinkedPod(ctx, ns, u+"{", s, 1, -1); return err },
		},
		contract.OpSetLinkedPodIfAbsent: {
			func(ctx context.Context) error { _, err := e.SetLinkedPodIfAbsent(ctx, ns, u, s, 1, -1); return err },
			func(ctx context.Context) error { _, err := e.SetLinkedPodIfAbsent(ctx, ns, u, s, 1, -2); return err },
		},
		contract.OpGetLinkedPod: {
			func(ctx context.Context) error { _, err := e.GetLinkedPod(ctx, ns, u, s); return err },
			func(ctx context.Context) error { _, err := e.GetLinkedPod(ctx, ns, "", s); return err },
		},
		contract.OpGetLinkedPodIfPersist: {
			func(ctx context.Context) error { _, err := e.GetLinkedPodIfPersist(ctx, ns, u, s); return err },
			func(ctx context.Context) error { _, err := e.GetLinkedPodIfPersist(ctx, ns, u, "a b"); return err },
		},
		contract.OpBatchGetLinkedPod: {
			func(ctx context.Context) error {
				_, err := e.BatchGetLinkedPod(ctx, ns, []string{u, "x"}, s)
				return err
			},
			func(ctx context.Context) error {
				_, err := e.BatchGetLinkedPod(ctx, ns, []string{u, ""}, s)
				return err
			},
		},
		contract.OpRemoveLinkedPod: {
			func(ctx context.Context) error { _, err := e.RemoveLinkedPod(ctx, ns, u, s, 5); return err },
			func(ctx context.Context) error { _, err := e.RemoveLinkedPod(ctx, ns, u, s, 0); return err },
		},
		contract.OpRemoveLinkedPodWithID: {
			func(ctx context.Context) error { _, err := e.RemoveLinkedPodWithID(ctx, ns, u, s, 1, -1); return err },
			func(ctx context.Context) error { _, err := e.RemoveLinkedPodWithID(ctx, ns, u, s, -1, -1); return err },
		},
		contract.OpGetLinkService: {
			func(ctx context.Context) error { _, err := e.GetLinkService(ctx, ns, u); return err },
			func(ctx context.Context) error { _, err := e.GetLinkService(ctx, ns, "\x00"); return err },
		},
		contract.OpComputeLinkedPod: {
			func(ctx context.Context) error {
				_, err := e.ComputeLinkedPod(ctx, ns, u, s, time.Minute, -1)
				return err
			},
			func(ctx context.Context) error {
				_, err := e.ComputeLinkedPod(ctx, ns, u, s, -time.Second, -1)
				return err
			},
		},
		// LoadScripts takes no input to reject: its second call is the
		// same, and the test expects one more success for it.
		contract.OpLoadScripts: {
			func(ctx context.Context) error { return e.LoadScripts(ctx) },
			nil,
		},
	}
}

// TestTelemetryEveryOperation runs, for every operation, a success, a call
// rejected as invalid and a call with a canceled context, and checks spans and
// metrics for each outcome.
func TestTelemetryEveryOperation(t *testing.T) {
	in, ns := newInstrumented(t)
	ctx := testContext(t)
	calls := opCalls(in.Executor, ns)
	if len(calls) != int(contract.NumOps) {
		t.Fatalf("test covers %d operations, contract has %d", len(calls), contract.NumOps)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	// Per operation: the outcomes in call order ("" success, else error.type).
	want := map[contract.Op][]string{}
	for id := range contract.NumOps {
		c := calls[id]
		if err := c[0](ctx); err != nil {
			t.Fatalf("%s success call: %v", id, err)
		}
		want[id] = append(want[id], "")
		if c[1] != nil {
			if err := c[1](ctx); err == nil {
				t.Fatalf("%s invalid call succeeded", id)
			}
			want[id] = append(want[id], contract.ErrorInvalidArgument.String())
		}
		if err := c[0](canceled); err == nil {
			t.Fatalf("%s with canceled context succeeded", id)
		}
		want[id] = append(want[id], contract.ErrorCanceled.String())
	}

	rm := in.collect(t)
	for id := range contract.NumOps {
		op := attribute.String(contract.AttrOperation, id.String())
		count := map[string]int64{}
		for _, et := range want[id] {
			count[et]++
		}
		if n := sumOf(t, rm, contract.MetricOperations, op, attribute.String(contract.AttrStatus, contract.StatusOK)); n != count[""] {
			t.Errorf("%s operations{status=ok} = %d, want %d", id, n, count[""])
		}
		if n := sumOf(t, rm, contract.MetricOperations, op, attribute.String(contract.AttrStatus, contract.StatusError)); n != int64(len(want[id]))-count[""] {
			t.Errorf("%s operations{status=error} = %d, want %d", id, n, int64(len(want[id]))-count[""])
		}
		for _, et := range []string{contract.ErrorInvalidArgument.String(), contract.ErrorCanceled.String()} {
			if n := sumOf(t, rm, contract.MetricErrors, op, attribute.String(contract.AttrErrorType, et)); n != count[et] {
				t.Errorf("%s errors{%s} = %d, want %d", id, et, n, count[et])
			}
		}
		if n := histogramCount(t, rm, op); n != uint64(len(want[id])) {
			t.Errorf("%s duration count = %d, want %d", id, n, len(want[id]))
		}
	}
	m, _ := findMetric(rm, contract.MetricOperationDuration)
	if m.Unit != "s" {
		t.Errorf("duration unit = %q, want s", m.Unit)
	}

	spans := in.recorder.Ended()
	i := 0
	for id := range contract.NumOps {
		for _, wantType := range want[id] {
			if i >= len(spans) {
				t.Fatalf("only %d spans", len(spans))
			}
			s := spans[i]
			i++
			name := id.String()
			if s.Name() != name || s.SpanKind() != trace.SpanKindClient {
				t.Fatalf("span %d = %s %v, want %s client", i, s.Name(), s.SpanKind(), name)
			}
			attrs := attribute.NewSet(s.Attributes()...)
			for _, kv := range []attribute.KeyValue{
				semconv.DBSystemNameRedis, semconv.DBQuerySummary(name), semconv.ServerAddress("127.0.0.1"),
				semconv.DBNamespace("0"), // the test client's database
			} {
				if v, ok := attrs.Value(kv.Key); !ok || v != kv.Value {
					t.Errorf("%s span: %s = %v, want %v", name, kv.Key, v.Emit(), kv.Value.Emit())
				}
			}
			// The method is no database operation: db.operation.name is the
			// Redis commands' alone.
			if v, ok := attrs.Value(semconv.DBOperationNameKey); ok {
				t.Errorf("%s span: db.operation.name = %q, want none", name, v.Emit())
			}
			if _, ok := attrs.Value(semconv.ServerPortKey); !ok {
				t.Errorf("%s span lacks server.port", name)
			}
			et, hasType := attrs.Value(semconv.ErrorTypeKey)
			if wantType == "" {
				if hasType || s.Status().Code != codes.Unset {
					t.Errorf("%s success span: error.type %v, status %v", name, et.Emit(), s.Status())
				}
			} else if et.AsString() != wantType || s.Status().Code != codes.Error {
				t.Errorf("%s failed span: error.type %q, status %v; want %q, Error", name, et.Emit(), s.Status(), wantType)
			}
			for _, kv := range s.Attributes() {
				if strings.Contains(kv.Value.Emit(), secretUID) || strings.Contains(kv.Value.Emit(), "sf:{") {
					t.Errorf("%s span attribute %s leaks a uid or key: %q", name, kv.Key, kv.Value.Emit())
				}
			}
			if strings.Contains(s.Status().Description, secretUID) {
				t.Errorf("%s span status leaks the uid: %q", name, s.Status().Description)
			}
		}
	}
	if i != len(spans) {
		t.Errorf("%d spans, want %d", len(spans), i)
	}
}

// TestTelemetryRedisFailure checks the error types of failures that come from
// Redis rather than from the input: a read timeout that passes while the
// server pauses its clients (timeout) and a dead server (connection).
func TestTelemetryRedisFailure(t *testing.T) {
	srv := redistest.StartServer(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	recorder := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ReadTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	e, err := New(rdb, WithMeterProvider(mp), WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)

	// A timeout: the read timeout passes while the server holds its clients.
	if err := srv.Client(t).Do(ctx, "CLIENT", "PAUSE", "1000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetLinkedPod(ctx, "ns", "u", "svc"); err == nil {
		t.Fatal("GetLinkedPod during CLIENT PAUSE succeeded within the read timeout")
	}

	srv.Kill()
	if _, err := e.SetLinkedPod(ctx, "ns", "u", "svc", 1, -1); err == nil {
		t.Fatal("SetLinkedPod against a dead server succeeded")
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		op        contract.Op
		errorType string
	}{
		{contract.OpGetLinkedPod, contract.ErrorTimeout.String()},
		{contract.OpSetLinkedPod, contract.ErrorConnection.String()},
	} {
		if n := sumOf(t, rm, contract.MetricErrors, attribute.String(contract.AttrOperation, c.op.String()), attribute.String(contract.AttrErrorType, c.errorType)); n != 1 {
			t.Errorf("%s errors{error_type=%s} = %d, want 1", c.op, c.errorType, n)
		}
	}
	spans := recorder.Ended()
	if len(spans) != 2 || spans[1].Status().Code != codes.Error {
		t.Fatalf("spans = %v", spans)
	}
}

func TestScriptCacheMetrics(t *testing.T) {
	srv := redistest.StartServer(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	rdb := srv.Client(t)
	e, err := New(rdb, WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	for range 3 {
		if _, err := e.SetLinkedPod(ctx, "ns", "u", "svc", 1, -1); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetLinkedPod(ctx, "ns", "u", "svc", 1, -1); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	// The first call sends the source (EVAL): neither a hit nor a miss.
	for name, want := range map[string]int64{
		contract.MetricScriptCacheHits: 3, contract.MetricScriptCacheMisses: 1, contract.MetricScriptCacheReloads: 1,
	} {
		if n := sumOf(t, rm, name); n != want {
			t.Errorf("%s = %d, want %d", name, n, want)
		}
	}
	m, ok := findMetric(rm, contract.MetricCacheHitRatio)
	if !ok {
		t.Fatal("no cache hit ratio gauge")
	}
	p := m.Data.(metricdata.Gauge[float64]).DataPoints
	if len(p) != 1 || p[0].Value != 0.75 {
		t.Fatalf("cache hit ratio = %+v, want one point 0.75", p)
	}
	if v, _ := p[0].Attributes.Value(contract.AttrCacheType); v.AsString() != contract.CacheScript {
		t.Fatalf("cache hit ratio attributes = %v", p[0].Attributes)
	}

	// Close ends the executor, not its counts: they belong to the
	// MeterProvider and stay.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	rm = metricdata.ResourceMetrics{}
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	if n := sumOf(t, rm, contract.MetricScriptCacheHits); n != 3 {
		t.Errorf("script cache hits after Close = %d, want 3", n)
	}
}

func TestServiceAttributes(t *testing.T) {
	in, ns := newInstrumented(t, WithServiceAttributes(true))
	ctx := testContext(t)
	for _, svc := range []string{"a", "b", "a"} {
		if _, err := in.GetLinkedPod(ctx, ns, "u", svc); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := in.GetLinkedPod(ctx, ns, "u", "bad:svc"); err == nil {
		t.Fatal("bad service accepted")
	}
	rm := in.collect(t)
	op := attribute.String(contract.AttrOperation, contract.OpGetLinkedPod.String())
	ok := attribute.String(contract.AttrStatus, contract.StatusOK)
	failed := attribute.String(contract.AttrStatus, contract.StatusError)
	nsAttr := attribute.String(contract.AttrNamespace, ns)
	if n := sumOf(t, rm, contract.MetricServiceOperations, op, ok, nsAttr, attribute.String(contract.AttrService, "a")); n != 2 {
		t.Errorf("service.operations{service=a} = %d, want 2", n)
	}
	if n := sumOf(t, rm, contract.MetricServiceOperations, op, ok, nsAttr, attribute.String(contract.AttrService, "b")); n != 1 {
		t.Errorf("service.operations{service=b} = %d, want 1", n)
	}
	invalid := []attribute.KeyValue{op, failed, attribute.String(contract.AttrNamespace, attrInvalid), attribute.String(contract.AttrService, attrInvalid)}
	if n := sumOf(t, rm, contract.MetricServiceOperations, invalid...); n != 1 {
		t.Errorf("service.operations{namespace=_invalid} = %d, want 1", n)
	}
	// The totals without service attributes hold every call.
	if n := sumOf(t, rm, contract.MetricOperations, op, ok); n != 3 {
		t.Errorf("operations{status=ok} = %d, want 3", n)
	}
	if n := sumOf(t, rm, contract.MetricErrors, op, attribute.String(contract.AttrErrorType, contract.ErrorInvalidArgument.String())); n != 1 {
		t.Errorf("errors{error_type=invalid_argument} = %d, want 1", n)
	}
}

// TestPairCacheBounded: past maxCachedPairs a pair's sets are built for the
// call and not kept; the pair is recorded under its own names all the same.
func TestPairCacheBounded(t *testing.T) {
	c := newPairCache()
	for i := range maxCachedPairs + 50 {
		c.get("ns", "svc"+strconv.Itoa(i), false)
	}
	if len(c.m) != maxCachedPairs {
		t.Fatalf("%d pairs kept, want the cap %d", len(c.m), maxCachedPairs)
	}
	p := c.get("ns", "one-more", false)
	if want := attribute.String(contract.AttrService, "one-more"); p.attrs[1] != want {
		t.Fatalf("a pair past the cap is recorded as %v, want its own name", p.attrs)
	}
	if c.get("ns", "one-more", false) == p {
		t.Fatal("a pair past the cap was kept")
	}
}
