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

// fixture is a MeterProvider whose only reader is a Collector, with every
// instrument of the contract created through its typed constructor on the
// scope that owns it, as otelexec and redisinstr create them. The
// observable ones report the values the test set, from one callback per
// scope.
type fixture struct {
	t        testing.TB
	c        *Collector
	mp       *sdkmetric.MeterProvider
	meter    metric.Meter // the executor's scope
	redis    metric.Meter // redisinstr's scope
	duration metric.Float64Histogram
	ping     metric.Float64Histogram
	command  metric.Float64Histogram

	mu        sync.Mutex
	observers map[string]func(metric.Observer, float64, metric.ObserveOption) // by instrument name
	values    map[string]map[attribute.Distinct]observed                      // the current value of each series
}

type observed struct {
	attrs attribute.Set
	v     float64
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
	f := &fixture{t: t, c: c, mp: mp, meter: mp.Meter(contract.ScopeExecutor), redis: mp.Meter(contract.ScopeRedis),
		observers: map[string]func(metric.Observer, float64, metric.ObserveOption){},
		values:    map[string]map[attribute.Distinct]observed{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var executor, redis []metric.Observable
	i64 := func(list *[]metric.Observable, name string, o metric.Int64Observable, err error) {
		must(err)
		*list = append(*list, o)
		f.observers[name] = func(obs metric.Observer, v float64, opt metric.ObserveOption) {
			obs.ObserveInt64(o, int64(math.Round(v)), opt)
		}
	}
	f64 := func(list *[]metric.Observable, name string, o metric.Float64Observable, err error) {
		must(err)
		*list = append(*list, o)
		f.observers[name] = func(obs metric.Observer, v float64, opt metric.ObserveOption) { obs.ObserveFloat64(o, v, opt) }
	}
	for _, d := range []contract.Int64Counter{contract.OperationsCounter, contract.ErrorsCounter,
		contract.ScriptCacheHits, contract.ScriptCacheMisses, contract.ScriptCacheReloads,
		contract.StateCacheHits, contract.StateCacheMisses} {
		o, err := d.New(f.meter)
		i64(&executor, d.Name, o, err)
	}
	{
		o, err := contract.CacheHitRatio.New(f.meter)
		f64(&executor, contract.CacheHitRatio.Name, o, err)
	}
	for _, d := range []contract.Int64Counter{contract.PoolTimeouts, contract.PoolWaits, contract.PoolHits, contract.PoolMisses} {
		o, err := d.New(f.redis)
		i64(&redis, d.Name, o, err)
	}
	for _, d := range []contract.Int64UpDownCounter{contract.PoolConnectionCount, contract.PoolMax} {
		o, err := d.New(f.redis)
		i64(&redis, d.Name, o, err)
	}
	{
		o, err := contract.ConnectionStatus.New(f.redis)
		i64(&redis, contract.ConnectionStatus.Name, o, err)
		w, err := contract.PoolWaitTime.New(f.redis)
		f64(&redis, contract.PoolWaitTime.Name, w, err)
		u, err := contract.PoolUtilization.New(f.redis)
		f64(&redis, contract.PoolUtilization.Name, u, err)
	}
	observe := func(names map[string]bool) metric.Callback {
		return func(_ context.Context, o metric.Observer) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			for name, series := range f.values {
				if !names[name] {
					continue
				}
				for _, p := range series {
					f.observers[name](o, p.v, metric.WithAttributeSet(p.attrs))
				}
			}
			return nil
		}
	}
	executorNames, redisNames := map[string]bool{}, map[string]bool{}
	for name := range f.observers {
		if f.meterFor(name) == f.redis {
			redisNames[name] = true
		} else {
			executorNames[name] = true
		}
	}
	_, err = f.meter.RegisterCallback(observe(executorNames), executor...)
	must(err)
	_, err = f.redis.RegisterCallback(observe(redisNames), redis...)
	must(err)
	f.duration, err = contract.OperationDuration.New(f.meter)
	must(err)
	f.ping, err = contract.PingDuration.New(f.redis)
	must(err)
	f.command, err = contract.CommandDuration.New(f.redis)
	must(err)
	return f
}

// set changes the value of one observable series: add adds to it (a
// counter), otherwise it is replaced (a gauge).
func (f *fixture) set(name string, v float64, add bool, attrs ...attribute.KeyValue) {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.observers[name] == nil {
		f.t.Fatalf("%s is not an observable instrument of the contract", name)
	}
	set := attribute.NewSet(attrs...)
	series := f.values[name]
	if series == nil {
		series = map[attribute.Distinct]observed{}
		f.values[name] = series
	}
	p := series[set.Equivalent()]
	p.attrs = set
	if add {
		p.v += v
	} else {
		p.v = v
	}
	series[set.Equivalent()] = p
}

// call records one executor call: its count, its duration and, when
// errType is not empty, its error.
func (f *fixture) call(op string, seconds float64, errType string) {
	f.t.Helper()
	status := contract.StatusOK
	if errType != "" {
		status = contract.StatusError
		f.count(contract.MetricErrors, 1, attribute.String(contract.AttrOperation, op), attribute.String(contract.AttrErrorType, errType))
	}
	f.count(contract.MetricOperations, 1, attribute.String(contract.AttrOperation, op), attribute.String(contract.AttrStatus, status))
	f.duration.Record(context.Background(), seconds, metric.WithAttributes(attribute.String(contract.AttrOperation, op)))
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

// count adds v to the observable counter called name.
func (f *fixture) count(name string, v int64, attrs ...attribute.KeyValue) {
	f.t.Helper()
	f.set(name, float64(v), true, attrs...)
}

// gauge sets the observable gauge (or up-down counter) called name.
func (f *fixture) gauge(name string, v int64, attrs ...attribute.KeyValue) {
	f.t.Helper()
	f.set(name, float64(v), false, attrs...)
}

// pool records the pool instruments of one pool.
func (f *fixture) pool(inUse, idle, max int64, waits, timeouts int64, waitSeconds float64, attrs ...attribute.KeyValue) {
	f.t.Helper()
	f.gauge(contract.MetricPoolConnectionCount, inUse, append(attrs, semconv.DBClientConnectionStateUsed)...)
	f.gauge(contract.MetricPoolConnectionCount, idle, append(attrs, semconv.DBClientConnectionStateIdle)...)
	f.gauge(contract.MetricPoolMax, max, attrs...)
	f.count(contract.MetricPoolWaits, waits, attrs...)
	f.count(contract.MetricPoolTimeouts, timeouts, attrs...)
	f.set(contract.MetricPoolWaitTime, waitSeconds, true, attrs...)
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
	for range n {
		f.ping.Record(context.Background(), seconds)
	}
}

// snapshot is the cumulative report of a fresh snapshot.
func (f *fixture) snapshot() *Report { return f.take().Report() }

func (f *fixture) take() *Snapshot {
	f.t.Helper()
	s, err := f.c.Snapshot(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return s
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
	gcWork    gcWork
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
	return runtimeSample{sched: explicitOf(runtimeBounds, rt.sched), gcPauses: explicitOf(runtimeBounds, rt.gc), hasRuntime: true, os: rt.os, gc: rt.gcWork}
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
	for name, k := range n {
		attrs := []attribute.KeyValue{semconv.DBSystemNameRedis}
		if name != "" {
			attrs = append(attrs, semconv.DBOperationName(name))
		}
		for i := range k {
			f.command.Record(context.Background(), seconds*(1+9*float64(i%100)/99), metric.WithAttributes(attrs...))
		}
	}
}

// withRuntime replaces the Go runtime's histograms, for tests that need
// fixed ones.
func withRuntime(read runtimeReader) Option {
	return func(c *config) { c.readRuntime = read }
}

// withManualHistory stops the background snapshots: tests with a fake clock
// take them with Collector.record.
func withManualHistory() Option {
	return func(c *config) { c.manualHistory = true }
}
