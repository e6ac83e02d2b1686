package report

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
)

// fixture is a MeterProvider whose only reader is a Collector, with the
// contract's instruments created the way an executor would create them.
type fixture struct {
	t        testing.TB
	c        *Collector
	mp       *sdkmetric.MeterProvider
	meter    metric.Meter // the executor's scope
	redis    metric.Meter // redisinstr's scope
	ops      metric.Int64Counter
	errs     metric.Int64Counter
	duration metric.Float64Histogram
}

func newFixture(t testing.TB, opts ...Option) *fixture {
	return newFixtureWith(t, nil, opts...)
}

// newFixtureWith also passes MeterProvider options.
func newFixtureWith(t testing.TB, mpOpts []sdkmetric.Option, opts ...Option) *fixture {
	t.Helper()
	c, err := NewCollector(opts...)
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("checkout"), semconv.ServiceVersion("1.4.2"))
	mp := sdkmetric.NewMeterProvider(append([]sdkmetric.Option{sdkmetric.WithReader(c.Reader()), sdkmetric.WithResource(res)}, mpOpts...)...)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	f := &fixture{t: t, c: c, mp: mp, meter: mp.Meter(contract.ScopeExecutor), redis: mp.Meter(contract.ScopeRedis)}
	if f.ops, err = f.meter.Int64Counter(contract.MetricOperations, metric.WithUnit(contract.UnitOperations)); err != nil {
		t.Fatal(err)
	}
	if f.errs, err = f.meter.Int64Counter(contract.MetricErrors, metric.WithUnit(contract.UnitErrors)); err != nil {
		t.Fatal(err)
	}
	if f.duration, err = f.meter.Float64Histogram(contract.MetricOperationDuration, metric.WithUnit("s")); err != nil {
		t.Fatal(err)
	}
	return f
}

// call records one executor call: its count, its duration and, when
// errType is not empty, its error.
func (f *fixture) call(op string, seconds float64, errType string) {
	ctx := context.Background()
	status := contract.StatusOK
	if errType != "" {
		status = contract.StatusError
		f.errs.Add(ctx, 1, metric.WithAttributes(
			attribute.String(contract.AttrOperation, op), attribute.String(contract.AttrErrorType, errType)))
	}
	f.ops.Add(ctx, 1, metric.WithAttributes(
		attribute.String(contract.AttrOperation, op), attribute.String(contract.AttrStatus, status)))
	f.duration.Record(ctx, seconds, metric.WithAttributes(attribute.String(contract.AttrOperation, op)))
}

// calls records n successful calls of op lasting seconds each.
func (f *fixture) calls(op string, n int, seconds float64) {
	for range n {
		f.call(op, seconds, "")
	}
}

// meterFor is the meter that records the instrument called name: redisinstr's
// for the pool, connection and command instruments, the executor's otherwise.
func (f *fixture) meterFor(name string) metric.Meter {
	if strings.HasPrefix(name, "db.client.") || strings.HasPrefix(name, "stateful_executor.redis.") {
		return f.redis
	}
	return f.meter
}

// count adds v to the Int64Counter called name.
func (f *fixture) count(name string, v int64, attrs ...attribute.KeyValue) {
	f.t.Helper()
	c, err := f.meterFor(name).Int64Counter(name)
	if err != nil {
		f.t.Fatal(err)
	}
	c.Add(context.Background(), v, metric.WithAttributes(attrs...))
}

// gauge sets the Int64Gauge called name.
func (f *fixture) gauge(name string, v int64, attrs ...attribute.KeyValue) {
	f.t.Helper()
	g, err := f.meterFor(name).Int64Gauge(name)
	if err != nil {
		f.t.Fatal(err)
	}
	g.Record(context.Background(), v, metric.WithAttributes(attrs...))
}

// pool records the pool instruments of one pool.
func (f *fixture) pool(inUse, idle, max int64, waits, timeouts int64, waitSeconds float64, attrs ...attribute.KeyValue) {
	f.t.Helper()
	f.gauge(contract.MetricPoolConnectionCount, inUse, append(attrs, semconv.DBClientConnectionStateUsed)...)
	f.gauge(contract.MetricPoolConnectionCount, idle, append(attrs, semconv.DBClientConnectionStateIdle)...)
	f.gauge(contract.MetricPoolMax, max, attrs...)
	f.count(contract.MetricPoolWaits, waits, attrs...)
	f.count(contract.MetricPoolTimeouts, timeouts, attrs...)
	wt, err := f.redis.Float64Counter(contract.MetricPoolWaitTime, metric.WithUnit("s"))
	if err != nil {
		f.t.Fatal(err)
	}
	wt.Add(context.Background(), waitSeconds, metric.WithAttributes(attrs...))
}

// connection records the connection status gauge of a client without a
// pool name.
func (f *fixture) connection(up bool) { f.clientStatus("", up) }

// clientStatus records the connection status pair of the client named by
// its pool name ("" for none).
func (f *fixture) clientStatus(name string, up bool) {
	u, d := int64(0), int64(1)
	if up {
		u, d = 1, 0
	}
	var attrs []attribute.KeyValue
	if name != "" {
		attrs = append(attrs, semconv.DBClientConnectionPoolName(name))
	}
	f.gauge(contract.MetricConnectionStatus, u, append(attrs, attribute.String(contract.AttrStatus, contract.StatusUp))...)
	f.gauge(contract.MetricConnectionStatus, d, append(attrs, attribute.String(contract.AttrStatus, contract.StatusDown))...)
}

// pings records n PING round trips of seconds each.
func (f *fixture) pings(n int, seconds float64) {
	f.t.Helper()
	h, err := f.redis.Float64Histogram(contract.MetricPingDuration, metric.WithUnit("s"))
	if err != nil {
		f.t.Fatal(err)
	}
	for range n {
		h.Record(context.Background(), seconds)
	}
}

func (f *fixture) snapshot() *Report {
	f.t.Helper()
	r, err := f.c.Snapshot(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// fakeClock is a settable clock for WithClock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func relErr(got, want float64) float64 {
	if want == 0 {
		return got
	}
	d := (got - want) / want
	if d < 0 {
		return -d
	}
	return d
}

func attrOp(op string) metric.MeasurementOption {
	return metric.WithAttributes(attribute.String(contract.AttrOperation, op))
}

// fakeRuntime stands in for the Go runtime's histograms: values added after
// the collector is made show up in its reports.
type fakeRuntime struct {
	mu        sync.Mutex
	sched, gc []float64
	os        osRunQueue
}

// runtimeBounds are bucket bounds like the runtime's: four per power of two.
var runtimeBounds = func() []float64 {
	var b []float64
	for k := -24 * 4; k <= 6*4; k++ {
		b = append(b, math.Exp2(float64(k)/4))
	}
	return b
}()

func explicitOf(bounds []float64, values []float64) histogram {
	counts := make([]uint64, len(bounds)+1)
	for _, v := range values {
		i, _ := slices.BinarySearch(bounds, v)
		counts[i]++
	}
	return newExplicit(bounds, counts, 0, false)
}

func (rt *fakeRuntime) read() runtimeSample {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return runtimeSample{sched: explicitOf(runtimeBounds, rt.sched), gcPauses: explicitOf(runtimeBounds, rt.gc), ok: true, os: rt.os}
}

// add records n scheduling latencies (or GC pauses) of seconds each.
func (rt *fakeRuntime) add(list *[]float64, n int, seconds float64) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for range n {
		*list = append(*list, seconds)
	}
}

// commands records redisinstr's db.client.operation.duration: n calls of
// each command (by db.operation.name, "" for one outside its table),
// spread from seconds to ten times it.
func (f *fixture) commands(n map[string]int, seconds float64) {
	f.t.Helper()
	h, err := f.redis.Float64Histogram("db.client.operation.duration", metric.WithUnit("s"))
	if err != nil {
		f.t.Fatal(err)
	}
	for name, k := range n {
		attrs := []attribute.KeyValue{semconv.DBSystemNameRedis}
		if name != "" {
			attrs = append(attrs, semconv.DBOperationName(name))
		}
		for i := range k {
			h.Record(context.Background(), seconds*(1+9*float64(i%100)/99), metric.WithAttributes(attrs...))
		}
	}
}
