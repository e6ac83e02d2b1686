package otelexec

import (
	"context"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
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

// TestCountsAreMonotonicAndAdditive: two executors on one MeterProvider add
// to the same counters, and closing one never takes its counts away, which
// every rate() would read as a counter reset.
func TestCountsAreMonotonicAndAdditive(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	a, _, ns := newTestExecutor(t, WithMeterProvider(mp))
	b, _, _ := newTestExecutor(t, WithMeterProvider(mp))
	ctx := testContext(t)
	calls := func(e *Executor, n int) {
		for range n {
			if _, err := e.GetLinkedPod(ctx, ns, "u", "svc"); err != nil {
				t.Fatal(err)
			}
		}
	}
	ok := []attribute.KeyValue{
		attribute.String(contract.AttrOperation, contract.OpGetLinkedPod.String()),
		attribute.String(contract.AttrStatus, contract.StatusOK),
	}
	count := func() int64 { return sumOf(t, metrictest.Collect(t, reader), contract.MetricOperations, ok...) }
	calls(a, 100)
	calls(b, 30)
	if n := count(); n != 130 {
		t.Fatalf("operations after 100 + 30 calls on two executors = %d, want 130", n)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 130 {
		t.Fatalf("operations after closing one executor = %d, want 130 (a counter must never go down)", n)
	}
	calls(b, 1)
	if n := count(); n != 131 {
		t.Fatalf("operations after one more call = %d, want 131", n)
	}
	// The closed executor's calls are refused and counted as such.
	if _, err := a.GetLinkedPod(ctx, ns, "u", "svc"); err == nil {
		t.Fatal("a closed executor served a call")
	}
	closed := []attribute.KeyValue{ok[0], attribute.String(contract.AttrErrorType, contract.ErrorClosed.String())}
	if n := sumOf(t, metrictest.Collect(t, reader), contract.MetricErrors, closed...); n != 1 {
		t.Errorf("errors{error_type=closed} = %d, want 1", n)
	}
}

// attributeSampler samples everything and remembers the attributes each
// span had when the sampler saw it.
type attributeSampler struct{ seen chan []attribute.KeyValue }

func (s attributeSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	s.seen <- p.Attributes
	return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample}
}

func (attributeSampler) Description() string { return "attributeSampler" }

// TestTraceShape: the executor span is the CLIENT span of the Redis call,
// with its db attributes visible to the sampler; with
// WithRedisCommandSpans it is INTERNAL and carries no db attributes, so
// span-derived metrics and service graphs count each round trip once.
func TestTraceShape(t *testing.T) {
	rdb := redistest.Client(t)
	sampler := attributeSampler{seen: make(chan []attribute.KeyValue, 4)}
	recorder := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithSpanProcessor(recorder))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx := testContext(t)
	ns := redistest.Namespace(t)
	for _, commandSpans := range []bool{false, true} {
		e, err := New(rdb, WithTracerProvider(tp), WithRedisCommandSpans(commandSpans))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.GetLinkedPod(ctx, ns, "u", "svc"); err != nil {
			t.Fatal(err)
		}
	}
	seen := attribute.NewSet(<-sampler.seen...)
	for _, kv := range []attribute.KeyValue{semconv.DBSystemNameRedis, semconv.DBQuerySummary("GetLinkedPod"), semconv.ServerAddress("127.0.0.1")} {
		if v, ok := seen.Value(kv.Key); !ok || v != kv.Value {
			t.Errorf("the sampler saw %s = %q, want %q", kv.Key, v.Emit(), kv.Value.Emit())
		}
	}
	if attrs := <-sampler.seen; len(attrs) != 0 {
		t.Errorf("with command spans the sampler saw %v, want no db attributes", attrs)
	}

	spans := recorder.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	if k := spans[0].SpanKind(); k != trace.SpanKindClient {
		t.Errorf("without command spans the executor span is %v, want client", k)
	}
	if k := spans[1].SpanKind(); k != trace.SpanKindInternal {
		t.Errorf("with command spans the executor span is %v, want internal", k)
	}
	for _, kv := range spans[1].Attributes() {
		if kv.Key == semconv.DBSystemNameKey {
			t.Errorf("the internal executor span carries %s", kv.Key)
		}
	}
}

// TestServiceAttributesOverflowIsVisible: 300 (namespace, service) pairs ×
// 8 operations is 2400 pairs' operations. Under a cardinality limit that
// cannot hold them, the instruments without service attributes still count
// every call under its operation, and the SDK folds what the per-service
// instruments cannot hold into its overflow series, where it is counted,
// not lost. Under a limit that holds them, every pair has its own series.
func TestServiceAttributesOverflowIsVisible(t *testing.T) {
	for _, limit := range []int{500, 10000} {
		t.Run("limit="+strconv.Itoa(limit), func(t *testing.T) {
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithCardinalityLimit(limit), sdkmetric.WithReader(reader))
			t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			e, _, ns := newTestExecutor(t, WithServiceAttributes(true), WithMeterProvider(mp))
			ctx := testContext(t)
			const pairs = 300
			ops := []func(svc string) error{
				func(svc string) error { _, err := e.GetLinkedPod(ctx, ns, "u", svc); return err },
				func(svc string) error { _, err := e.GetLinkedPodIfPersist(ctx, ns, "u", svc); return err },
				func(svc string) error { _, err := e.SetLinkedPod(ctx, ns, "u", svc, 1, 60); return err },
				func(svc string) error { _, _, err := e.TrySetLinkedPod(ctx, ns, "u", svc, 1, 60); return err },
				func(svc string) error { _, err := e.SetLinkedPodIfAbsent(ctx, ns, "u", svc, 1, 60); return err },
				func(svc string) error { _, err := e.RemoveLinkedPod(ctx, ns, "u", svc, -1); return err },
				func(svc string) error { _, err := e.GetWorkloadState(ctx, ns, svc); return err },
				func(svc string) error { _, err := e.GetServiceState(ctx, ns, svc); return err },
			}
			for i := range pairs {
				svc := "svc-" + strconv.Itoa(i)
				for _, call := range ops {
					if err := call(svc); err != nil {
						t.Fatal(err)
					}
				}
			}
			rm := metrictest.Collect(t, reader)
			byOp := map[string]int64{}
			var serviceTotal, overflowed int64
			named := map[string]bool{}
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					d, ok := m.Data.(metricdata.Sum[int64])
					if !ok {
						continue
					}
					if len(d.DataPoints) > limit {
						t.Errorf("%s has %d series, over the limit %d", m.Name, len(d.DataPoints), limit)
					}
					for _, p := range d.DataPoints {
						_, overflow := p.Attributes.Value("otel.metric.overflow")
						switch m.Name {
						case contract.MetricOperations:
							if overflow {
								t.Errorf("%s has an overflow series: its totals are not exact", m.Name)
							}
							op, _ := p.Attributes.Value(contract.AttrOperation)
							byOp[op.AsString()] += p.Value
						case contract.MetricServiceOperations:
							serviceTotal += p.Value
							if overflow {
								overflowed += p.Value
							}
							svc, _ := p.Attributes.Value(contract.AttrService)
							named[svc.AsString()] = true
						}
					}
				}
			}
			if len(byOp) != len(ops) {
				t.Errorf("%d operations counted, want %d", len(byOp), len(ops))
			}
			for op, n := range byOp {
				if n != pairs {
					t.Errorf("%s: %d calls counted, want %d", op, n, pairs)
				}
			}
			if want := int64(pairs * len(ops)); serviceTotal != want {
				t.Errorf("service.operations sums to %d, want every call, %d", serviceTotal, want)
			}
			if limit == 10000 && (overflowed != 0 || !named["svc-299"]) {
				t.Errorf("with room for every pair: %d calls overflowed, svc-299 named %v; want 0 and true", overflowed, named["svc-299"])
			}
			if limit == 500 && overflowed == 0 {
				t.Error("2400 pairs' operations under a limit of 500: nothing in the overflow series")
			}
		})
	}
}
