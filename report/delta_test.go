package report

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/statefulroute/sfotel/internal/contract"
)

func TestDeltaDifferencesCountsAndBuckets(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	f := newFixture(t, WithClock(clock.now))
	f.calls(contract.OpGetLinkedPod.String(), 1000, 0.001)
	f.call(contract.OpGetLinkedPod.String(), 0.001, contract.ErrorTimeout.String())
	f.pool(4, 6, 10, 5, 0, 0.1)
	f.count(contract.MetricScriptCacheHits, 100)
	clock.advance(10 * time.Second)
	prev := f.take()

	// The second interval is ten times slower, with a 30ms outlier.
	for i := range 500 {
		f.call(contract.OpGetLinkedPod.String(), 0.008+float64(i%5)*0.001, "")
	}
	f.call(contract.OpGetLinkedPod.String(), 0.030, contract.ErrorTimeout.String())
	f.call(contract.OpGetLinkedPod.String(), 0.0001, contract.ErrorInvalidArgument.String())
	f.calls(contract.OpSetLinkedPod.String(), 10, 0.002) // new in this interval
	f.pool(6, 4, 10, 3, 1, 0.4)                          // gauges replaced, counters added
	f.count(contract.MetricScriptCacheHits, 50)
	clock.advance(5 * time.Second)
	cur := f.take()

	d := Delta(prev, cur)
	if !d.Window.Start.Equal(prev.Report().Window.End) || !d.Window.End.Equal(cur.Report().Window.End) || d.Window.Seconds != 5 {
		t.Fatalf("window %+v, want prev end .. cur end (5s)", d.Window)
	}
	op := d.Operation(contract.OpGetLinkedPod.String())
	if op.Count != 502 || op.Errors != 2 || op.ErrorsByType[contract.ErrorTimeout.String()] != 1 || op.ErrorsByType[contract.ErrorInvalidArgument.String()] != 1 {
		t.Fatalf("interval stats %+v", op)
	}
	if op.OpsPerSec != 502.0/5 {
		t.Fatalf("ops/s %v", op.OpsPerSec)
	}
	// Quantiles come from the interval's buckets only: the 1ms calls of the
	// first interval must not pull p50 down.
	if relErr(op.P50Seconds, 0.010) > 0.022 {
		t.Fatalf("interval p50 %v, want about 10ms (cumulative p50 is %v)", op.P50Seconds, cur.Report().Operation(contract.OpGetLinkedPod.String()).P50Seconds)
	}
	wantMean := (100*(0.008+0.009+0.010+0.011+0.012) + 0.030 + 0.0001) / 502
	if math.Abs(op.MeanSeconds-wantMean) > 0.5e-9 { // rounded to the nanosecond
		t.Fatalf("interval mean %v, want %v", op.MeanSeconds, wantMean)
	}
	if op.MaxSeconds < 0.030 || relErr(op.MaxSeconds, 0.030) > 0.022 {
		t.Fatalf("interval max %v, want within a bucket above 30ms", op.MaxSeconds)
	}
	if set := d.Operation(contract.OpSetLinkedPod.String()); set == nil || set.Count != 10 {
		t.Fatalf("operation new in the interval: %+v", set)
	}
	p := d.Redis.Pool
	if p.Waits != 3 || p.Timeouts != 1 || math.Abs(p.WaitSeconds-0.4) > 1e-12 || p.InUse != 6 || p.Max != 10 {
		t.Fatalf("interval pool %+v", p)
	}
	if d.Redis.ScriptCache.Hits != 50 {
		t.Fatalf("interval script cache %+v", d.Redis.ScriptCache)
	}
	// The interval's rules see the interval: timeouts in it are critical.
	if s := one(t, d, RulePoolExhaustion); s.Evidence[contract.MetricPoolTimeouts] != 1 {
		t.Fatalf("%+v", s)
	}
}

func TestDeltaAfterRestart(t *testing.T) {
	// Two reports from different processes: cur counted less than prev, so
	// cur is the change.
	a, b := newFixture(t), newFixture(t)
	a.calls(contract.OpGetLinkedPod.String(), 100, 0.001)
	a.pool(1, 1, 2, 50, 5, 3)
	b.calls(contract.OpGetLinkedPod.String(), 10, 0.004)
	b.pool(1, 1, 2, 7, 0, 1)
	d := Delta(a.take(), b.take())
	op := d.Operation(contract.OpGetLinkedPod.String())
	if op.Count != 10 || relErr(op.P50Seconds, 0.004) > 1e-12 {
		t.Fatalf("after restart %+v", op)
	}
	if d.Redis.Pool.Waits != 7 || d.Redis.Pool.Timeouts != 0 || d.Redis.Pool.WaitSeconds != 1 {
		t.Fatalf("pool after restart %+v", d.Redis.Pool)
	}
}

func TestDeltaNil(t *testing.T) {
	f := newFixture(t)
	f.calls(contract.OpGetLinkedPod.String(), 3, 0.001)
	s := f.take()
	if d := Delta(nil, s); d == nil || !reflect.DeepEqual(d, s.Report()) || Delta(s, nil) != nil {
		t.Fatal("Delta with a nil snapshot")
	}
	if d := Delta(&Snapshot{}, s); d == nil || d.Operations == nil || d.Operation(contract.OpGetLinkedPod.String()).Count != 3 {
		t.Fatal("Delta with a zero prev")
	}
}
