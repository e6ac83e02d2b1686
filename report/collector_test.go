package report

import (
	"context"
	"errors"
	"io"
	"math"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
)

func TestSnapshotAggregatesOperationsAcrossScopesAndAttributes(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	f := newFixture(t, WithClock(clock.now))
	before := time.Now()
	f.calls(contract.OpGetLinkedPod.String(), 6, 0.002)
	f.call(contract.OpGetLinkedPod.String(), 0.004, contract.ErrorTimeout.String())
	f.call(contract.OpGetLinkedPod.String(), 0.008, contract.ErrorTimeout.String())
	f.call(contract.OpGetLinkedPod.String(), 0.0001, contract.ErrorInvalidArgument.String())

	// A second executor's meter (the same scope, a second version) with
	// namespace/service attributes, as otelexec.WithServiceAttributes adds
	// them: the report sums them in.
	second := f.mp.Meter(contract.ScopeExecutor, metric.WithInstrumentationVersion("0.0.0-other"))
	ops, err := contract.OperationsCounter.New(second)
	if err != nil {
		t.Fatal(err)
	}
	dur, err := contract.OperationDuration.New(second)
	if err != nil {
		t.Fatal(err)
	}
	attrs := attribute.NewSet(attribute.String(contract.AttrOperation, contract.OpGetLinkedPod.String()),
		attribute.String(contract.AttrStatus, contract.StatusOK),
		attribute.String(contract.AttrNamespace, "ns1"), attribute.String(contract.AttrService, "game"))
	if _, err := second.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(ops, 3, metric.WithAttributeSet(attrs))
		return nil
	}, ops); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		dur.Record(context.Background(), 0.016, metric.WithAttributeSet(attrs))
	}
	f.calls(contract.OpSetLinkedPod.String(), 2, 0.001)

	clock.advance(10 * time.Second)
	r := f.snapshot()

	if r.SchemaVersion != SchemaVersion || r.Service != (Service{Name: "checkout", Version: "1.4.2"}) {
		t.Fatalf("schema %d service %+v", r.SchemaVersion, r.Service)
	}
	if r.Window.Start.After(before) || !r.Window.End.Equal(clock.t.UTC()) || !r.GeneratedAt.Equal(clock.t.UTC()) {
		t.Fatalf("window %+v generated %v, want start ≤ %v and end %v", r.Window, r.GeneratedAt, before, clock.t)
	}
	if want := r.Window.End.Sub(r.Window.Start).Seconds(); r.Window.Seconds != want {
		t.Fatalf("window seconds %v, want %v", r.Window.Seconds, want)
	}
	if len(r.Operations) != 2 || r.Operations[0].Name != contract.OpGetLinkedPod.String() || r.Operations[1].Name != contract.OpSetLinkedPod.String() {
		t.Fatalf("operations not sorted by name or missing: %+v", r.Operations)
	}
	op := r.Operation(contract.OpGetLinkedPod.String())
	if op.Count != 12 || op.Errors != 3 {
		t.Fatalf("count %d errors %d, want 12 and 3", op.Count, op.Errors)
	}
	if op.ErrorsByType[contract.ErrorTimeout.String()] != 2 || op.ErrorsByType[contract.ErrorInvalidArgument.String()] != 1 || len(op.ErrorsByType) != 2 {
		t.Fatalf("errors by type %v", op.ErrorsByType)
	}
	if op.ErrorRate != 0.25 {
		t.Fatalf("error rate %v, want 0.25", op.ErrorRate)
	}
	if want := 12 / r.Window.Seconds; math.Abs(op.OpsPerSec-want) > 1e-9 {
		t.Fatalf("ops/s %v, want %v", op.OpsPerSec, want)
	}
	wantMean := (6*0.002 + 0.004 + 0.008 + 0.0001 + 3*0.016) / 12
	if math.Abs(op.MeanSeconds-wantMean) > 0.5e-9 { // rounded to the nanosecond
		t.Fatalf("mean %v, want %v", op.MeanSeconds, wantMean)
	}
	if op.MaxSeconds != 0.016 {
		t.Fatalf("max %v, want the recorded max 0.016", op.MaxSeconds)
	}
	// 12 values: 0.1ms, 6×2ms, 4ms, 8ms, 3×16ms. Rank 6 is a 2ms value.
	if relErr(op.P50Seconds, 0.002) > 0.022 {
		t.Fatalf("p50 %v, want about 2ms", op.P50Seconds)
	}
	if op.P99Seconds != 0.016 {
		t.Fatalf("p99 %v, want 16ms (clamped to max)", op.P99Seconds)
	}
	if r.Redis.ConnectionUp != nil || r.Redis.StateCache != nil {
		t.Fatalf("connection %v state cache %v: want both absent when not recorded", r.Redis.ConnectionUp, r.Redis.StateCache)
	}
}

// TestSnapshotReadsOnlySfotelScopes records the same instrument names from
// another library's scope, as otelsql or pgx would record
// db.client.connection.*: none of it reaches the report.
func TestSnapshotReadsOnlySfotelScopes(t *testing.T) {
	f := newFixture(t)
	f.calls(contract.OpGetLinkedPod.String(), 5, 0.001)
	f.pool(2, 3, 10, 4, 1, 0.5, semconv.DBClientConnectionPoolName("127.0.0.1:6379"))
	f.clientStatus("127.0.0.1:6379", true)
	f.pings(20, 0.0002)

	other := f.mp.Meter("github.com/XSAM/otelsql")
	ctx := context.Background()
	pg := metric.WithAttributes(semconv.DBClientConnectionPoolName("postgres"))
	for name, v := range map[string]int64{contract.MetricPoolMax: 100, contract.MetricPoolWaits: 999, contract.MetricPoolTimeouts: 50} {
		c, err := other.Int64UpDownCounter(name)
		if err != nil {
			t.Fatal(err)
		}
		c.Add(ctx, v, pg)
	}
	used, err := other.Int64UpDownCounter(contract.MetricPoolConnectionCount)
	if err != nil {
		t.Fatal(err)
	}
	used.Add(ctx, 100, metric.WithAttributes(semconv.DBClientConnectionPoolName("postgres"), semconv.DBClientConnectionStateUsed))
	status, err := other.Int64Gauge(contract.MetricConnectionStatus)
	if err != nil {
		t.Fatal(err)
	}
	status.Record(ctx, 0, metric.WithAttributes(attribute.String(contract.AttrStatus, contract.StatusUp)))
	ops, err := other.Int64Counter(contract.MetricOperations)
	if err != nil {
		t.Fatal(err)
	}
	ops.Add(ctx, 1000, metric.WithAttributes(attribute.String(contract.AttrOperation, contract.OpGetLinkedPod.String()), attribute.String(contract.AttrStatus, contract.StatusError)))
	dur, err := other.Float64Histogram(contract.MetricOperationDuration)
	if err != nil {
		t.Fatal(err)
	}
	dur.Record(ctx, 9, attrOp(contract.OpGetLinkedPod.String()))
	ping, err := other.Float64Histogram(contract.MetricPingDuration)
	if err != nil {
		t.Fatal(err)
	}
	ping.Record(ctx, 5)

	r := f.snapshot()
	if op := r.Operation(contract.OpGetLinkedPod.String()); op.Count != 5 || op.Errors != 0 || op.MaxSeconds != 0.001 {
		t.Fatalf("operation %+v: another scope's calls were summed in", op)
	}
	if p := r.Redis.Pool; p.Max != 10 || p.InUse != 2 || p.Waits != 4 || p.Timeouts != 1 {
		t.Fatalf("pool %+v: another scope's pool was summed in", p)
	}
	if len(r.Redis.Clients) != 1 || r.Redis.Clients[0].Name != "127.0.0.1:6379" {
		t.Fatalf("clients %+v", r.Redis.Clients)
	}
	if up := r.Redis.ConnectionUp; up == nil || !*up {
		t.Fatalf("connection up %v: another scope's status was read", up)
	}
	if p := r.Redis.Ping; p == nil || p.Count != 20 || p.MaxSeconds != 0.0002 {
		t.Fatalf("ping %+v", p)
	}
}

func TestSnapshotRedis(t *testing.T) {
	f := newFixture(t)
	node := func(addr string) attribute.KeyValue { return semconv.DBClientConnectionPoolName(addr) }
	f.pool(8, 2, 10, 3, 1, 0.25, node("a:6379"))
	f.pool(2, 8, 10, 1, 0, 0.5, node("b:6379"))
	f.count(contract.MetricScriptCacheHits, 97)
	f.count(contract.MetricScriptCacheMisses, 3)
	f.count(contract.MetricScriptCacheReloads, 3)
	f.count(contract.MetricStateCacheHits, 30)
	f.count(contract.MetricStateCacheMisses, 10)
	f.connection(true)

	r := f.snapshot()
	p := r.Redis.Pool
	if p.InUse != 10 || p.Idle != 10 || p.Max != 20 || p.Waits != 4 || p.Timeouts != 1 || p.WaitSeconds != 0.75 {
		t.Fatalf("pool %+v", p)
	}
	if p.Utilization != 0.8 {
		t.Fatalf("utilization %v, want the busiest pool's 8/10", p.Utilization)
	}
	if sc := r.Redis.ScriptCache; sc != (ScriptCache{Hits: 97, Misses: 3, Reloads: 3, HitRatio: 0.97, WarmingUp: true}) {
		t.Fatalf("script cache %+v", sc)
	}
	if st := r.Redis.StateCache; st == nil || *st != (StateCache{Hits: 30, Misses: 10, HitRatio: 0.75}) {
		t.Fatalf("state cache %+v", st)
	}
	if up := r.Redis.ConnectionUp; up == nil || !*up {
		t.Fatalf("connection up %v, want true", up)
	}
	f.connection(false)
	if up := f.snapshot().Redis.ConnectionUp; up == nil || *up {
		t.Fatalf("connection up %v, want false", up)
	}
}

func TestSnapshotUtilizationGaugeWhenMaxUnknown(t *testing.T) {
	f := newFixture(t)
	f.set(contract.MetricPoolUtilization, 0.4, false, semconv.DBClientConnectionPoolName("a"))
	f.set(contract.MetricPoolUtilization, 0.95, false, semconv.DBClientConnectionPoolName("b"))
	if u := f.snapshot().Redis.Pool.Utilization; u != 0.95 {
		t.Fatalf("utilization %v, want the busiest pool's 0.95", u)
	}
}

func TestSnapshotEmpty(t *testing.T) {
	r := newFixture(t).snapshot()
	if len(r.Operations) != 0 || r.Operations == nil || len(r.Suggestions) != 0 || r.Suggestions == nil {
		t.Fatalf("empty report: operations %v suggestions %v (want empty, not nil)", r.Operations, r.Suggestions)
	}
}

func TestSnapshotUnregisteredReader(t *testing.T) {
	c, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Snapshot(context.Background())
	if !errors.Is(err, sdkmetric.ErrReaderNotRegistered) {
		t.Fatalf("err %v, want ErrReaderNotRegistered", err)
	}
}

func TestReaderAsksForExponentialHistograms(t *testing.T) {
	f := newFixture(t)
	f.call(contract.OpGetLinkedPod.String(), 0.001, "")
	h := *f.take().raw.hist(contract.MetricOperationDuration, contract.OpGetLinkedPod.String())
	if h.count != 1 || h.scale != histogramMaxScale {
		t.Fatalf("histogram count %d scale %d: want an exponential histogram at scale %d", h.count, h.scale, histogramMaxScale)
	}
}

func TestSnapshotConcurrentWithRecording(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	done := make(chan struct{})
	var recorded int
	go func() {
		defer close(done)
		for i := range 2000 {
			f.call(contract.Op(i%int(contract.NumOps)).String(), float64(i%50+1)*1e-4, "")
			recorded++
		}
	}()
	errc := make(chan error, 4)
	for range 4 {
		go func() {
			var prev *Snapshot
			for range 20 {
				r, err := f.c.Snapshot(ctx)
				if err != nil {
					errc <- err
					return
				}
				if d := Delta(prev, r); d == nil {
					errc <- errors.New("nil delta")
					return
				}
				if err := r.Report().WriteJSON(io.Discard); err != nil {
					errc <- err
					return
				}
				prev = r
			}
			errc <- nil
		}()
	}
	for range 4 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	<-done
	var total uint64
	for _, op := range f.snapshot().Operations {
		total += op.Count
	}
	if total != uint64(recorded) {
		t.Fatalf("%d calls in the report, %d recorded", total, recorded)
	}
}
