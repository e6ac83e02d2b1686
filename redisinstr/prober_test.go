package redisinstr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
)

var (
	attrUp   = attribute.String(contract.AttrStatus, contract.StatusUp)
	attrDown = attribute.String(contract.AttrStatus, contract.StatusDown)
)

// status reads the status gauge of the one instrumented client: true for
// up. It fails the test unless there is one client, whose two series are
// one 1 and one 0.
func status(t *testing.T, r *sdkmetric.ManualReader) bool {
	t.Helper()
	byClient := statuses(t, r)
	if len(byClient) != 1 {
		t.Fatalf("status gauge for %d clients, want 1: %v", len(byClient), byClient)
	}
	for _, up := range byClient {
		return up
	}
	return false
}

// statuses reads the status gauge per client (db.client.connection.pool.name).
func statuses(t *testing.T, r *sdkmetric.ManualReader) map[string]bool {
	t.Helper()
	m, ok := findMetric(collect(t, r), contract.MetricConnectionStatus)
	if !ok {
		t.Fatal("no status gauge")
	}
	values := map[string]map[string]int64{}
	for _, p := range m.Data.(metricdata.Gauge[int64]).DataPoints {
		name, _ := p.Attributes.Value(semconv.DBClientConnectionPoolNameKey)
		st, _ := p.Attributes.Value(contract.AttrStatus)
		if values[name.AsString()] == nil {
			values[name.AsString()] = map[string]int64{}
		}
		values[name.AsString()][st.AsString()] = p.Value
	}
	out := map[string]bool{}
	for name, v := range values {
		up, down := v[contract.StatusUp], v[contract.StatusDown]
		if len(v) != 2 || up+down != 1 || up*down != 0 {
			t.Fatalf("status gauge of %q: %v, want one 1 and one 0", name, v)
		}
		out[name] = up == 1
	}
	return out
}

func TestProberFollowsServer(t *testing.T) {
	const interval = 300 * time.Millisecond
	s := redistest.StartServer(t)
	c := s.Client(t)
	mp, reader := testMeter(t)
	inst, err := Instrument(c, WithMeterProvider(mp), WithProbeInterval(interval), WithProbeTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })

	// The first probe ran inside Instrument.
	if !status(t, reader) {
		t.Fatal("status down right after Instrument against a running server")
	}
	if got := mustPoint(t, collect(t, reader), contract.MetricPingDuration, append(serverAttrs(s.Addr), semconv.DBClientConnectionPoolName(s.Addr))...); got < 1 {
		t.Fatalf("ping duration count = %v after the first probe, want >= 1", got)
	}

	s.Kill()
	killed := time.Now()
	if !eventually(2*interval, func() bool { return !status(t, reader) }) {
		t.Fatalf("status still up %v after the server was killed", time.Since(killed))
	}

	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if !eventually(2*interval, func() bool { return status(t, reader) }) {
		t.Fatalf("status still down %v after the server was started again", time.Since(started))
	}
}

func TestInstrumentAgainstDownServerReportsDown(t *testing.T) {
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + itoa(port)})
	t.Cleanup(func() { _ = c.Close() })
	mp, reader := testMeter(t)
	start := time.Now()
	inst, err := Instrument(c, WithMeterProvider(mp), WithProbeTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatalf("Instrument against a down server: %v, want a down status instead of an error", err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	if d := time.Since(start); d > time.Second {
		t.Errorf("Instrument took %v against a down server, want it bounded by the 300ms probe timeout", d)
	}
	if status(t, reader) {
		t.Fatal("status up with nothing listening")
	}
	// A failed PING records no latency.
	if m, ok := findMetric(collect(t, reader), contract.MetricPingDuration); ok {
		if n := len(m.Data.(metricdata.Histogram[float64]).DataPoints); n != 0 {
			t.Errorf("ping duration has %d points after a failed PING, want none", n)
		}
	}
}

func TestCloseStopsEverything(t *testing.T) {
	c := redistest.Client(t)
	mp, reader := testMeter(t)
	before := runtime.NumGoroutine()
	var insts []*Instrumentation
	for k := range 3 {
		inst, err := Instrument(c, WithMeterProvider(mp), WithProbeInterval(10*time.Millisecond), WithPoolName("client-"+itoa(k)))
		if err != nil {
			t.Fatal(err)
		}
		insts = append(insts, inst)
	}
	if st := statuses(t, reader); len(st) != 3 {
		t.Fatalf("status of %d clients, want 3: %v", len(st), st)
	}
	// Close concurrently and twice: idempotent and race free.
	done := make(chan error)
	for _, inst := range insts {
		go func() { done <- inst.Close() }()
		go func() { done <- inst.Close() }()
	}
	for range 2 * len(insts) {
		if err := <-done; err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	if !eventually(time.Second, func() bool { return runtime.NumGoroutine() <= before }) {
		t.Errorf("goroutines: %d before Instrument, %d after Close", before, runtime.NumGoroutine())
	}
	rm := collect(t, reader)
	for _, name := range []string{contract.MetricConnectionStatus, contract.MetricPoolConnectionCount, contract.MetricPoolUtilization} {
		if _, n := point(rm, name); n != 0 {
			t.Errorf("%s still has %d points after Close", name, n)
		}
	}
	// The hook stays on the client (go-redis cannot remove it) but records
	// nothing past Close. (The prober's PINGs have a connection of their
	// own, without the hook.)
	ping := append(serverAttrs(c.Options().Addr), semconv.DBSystemNameRedis, semconv.DBNamespace("0"), semconv.DBOperationName("PING"))
	if _, n := point(rm, "db.client.operation.duration", ping...); n != 0 {
		t.Errorf("the prober's PINGs went through the client's hook")
	}
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if _, n := point(collect(t, reader), "db.client.operation.duration", ping...); n != 0 {
		t.Errorf("a PING past Close was recorded")
	}
}

// TestEachClientHasItsOwnStatus: two clients on one MeterProvider, one of
// them to a dead server, report two statuses; the dead one's is down.
func TestEachClientHasItsOwnStatus(t *testing.T) {
	live := redistest.StartServer(t)
	dead := redistest.StartServer(t)
	mp, reader := testMeter(t)
	for _, s := range []*redistest.Server{live, dead} {
		inst, err := Instrument(s.Client(t), WithMeterProvider(mp), WithProbeInterval(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = inst.Close() })
	}
	dead.Kill()
	ok := eventually(2*time.Second, func() bool {
		st := statuses(t, reader)
		return len(st) == 2 && st[live.Addr] && !st[dead.Addr]
	})
	if !ok {
		t.Fatalf("statuses = %v, want %s up and %s down", statuses(t, reader), live.Addr, dead.Addr)
	}
}

func TestInstrumentRejectsBadInput(t *testing.T) {
	c := redistest.Client(t)
	for _, tc := range []struct {
		name string
		rdb  redis.UniversalClient
		opts []Option
		want string
	}{
		{"nil client", nil, nil, "rdb is nil"},
		{"typed nil client", (*redis.Client)(nil), nil, "nil *redis.Client"},
		{"typed nil cluster", (*redis.ClusterClient)(nil), nil, "nil *redis.ClusterClient"},
		{"zero interval", c, []Option{WithProbeInterval(0)}, "WithProbeInterval"},
		{"negative timeout", c, []Option{WithProbeTimeout(-time.Second)}, "WithProbeTimeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, err := Instrument(tc.rdb, tc.opts...)
			if err == nil {
				_ = inst.Close()
				t.Fatal("no error")
			}
			if !contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %q", err, tc.want)
			}
		})
	}
}

// TestConcurrentCommandsCollectAndClose runs commands, collections and
// probes at once, then closes in the middle of it: run with -race.
func TestConcurrentCommandsCollectAndClose(t *testing.T) {
	c := redistest.Client(t)
	mp, reader := testMeter(t)
	inst, err := Instrument(c, WithMeterProvider(mp), WithProbeInterval(5*time.Millisecond), WithCommandSpans(true))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	key := "sf:{" + redistest.Namespace(t) + ":workload:svc}"
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				// go-redis sets the socket deadline from ctx, so a read or
				// write can time out a moment before ctx.Err() says so (the
				// context's timer may not have run yet on a loaded machine).
				err := c.Get(ctx, key).Err()
				if err != nil && !errors.Is(err, redis.Nil) && !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil &&
					!(errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(deadline)) {
					t.Errorf("GET: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			var rm metricdata.ResourceMetrics
			if err := reader.Collect(context.Background(), &rm); err != nil {
				t.Errorf("Collect: %v", err)
				return
			}
		}
	})
	time.Sleep(100 * time.Millisecond)
	if err := inst.Close(); err != nil {
		t.Error(err)
	}
	wg.Wait()
}

// TestInstrumentAndCloseAreBoundedBySilentServer: a Redis that accepts TCP
// and never answers, and a client that would wait forever for it
// (ReadTimeout -1, no context deadlines). Instrument's first probe and Close
// are bounded by the probe timeout all the same: the prober has a
// connection of its own with the probe timeout as its timeouts.
func TestInstrumentAndCloseAreBoundedBySilentServer(t *testing.T) {
	srv := redistest.StartServer(t)
	proxy := redistest.StartProxy(t, srv.Addr)
	proxy.Silence()
	c := redis.NewClient(&redis.Options{Addr: proxy.Addr, ReadTimeout: -1, WriteTimeout: -1})
	t.Cleanup(func() { _ = c.Close() })
	mp, reader := testMeter(t)
	const timeout = 200 * time.Millisecond
	start := time.Now()
	inst, err := Instrument(c, WithMeterProvider(mp), WithProbeInterval(time.Second), WithProbeTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > timeout+150*time.Millisecond {
		t.Errorf("Instrument took %v against a silent server, probe timeout %v", took, timeout)
	}
	if status(t, reader) {
		t.Error("a silent server reported up")
	}
	start = time.Now()
	if err := inst.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > timeout+150*time.Millisecond {
		t.Errorf("Close took %v, probe timeout %v", took, timeout)
	}
}

// TestBusyPoolIsNotDown: every connection of the client's pool is taken by
// writes that a CLIENT PAUSE WRITE holds, yet Redis answers PING. The status
// says whether the server answers, so it stays up; the pool's saturation
// shows in its own metrics.
func TestBusyPoolIsNotDown(t *testing.T) {
	srv := redistest.StartServer(t)
	const pool = 2
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: pool, PoolTimeout: 100 * time.Millisecond, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	mp, reader := testMeter(t)
	inst, err := Instrument(c, WithMeterProvider(mp), WithProbeInterval(50*time.Millisecond), WithProbeTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	admin := srv.Client(t)
	ctx := context.Background()
	if err := admin.Do(ctx, "CLIENT", "PAUSE", "1500", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for k := range pool {
		wg.Go(func() { _ = c.Set(ctx, "busy:"+itoa(k), "v", 0).Err() })
	}
	time.Sleep(300 * time.Millisecond) // several probes while the pool is full
	busy := mustPoint(t, collect(t, reader), contract.MetricPoolUtilization, semconv.DBClientConnectionPoolName(srv.Addr))
	up := status(t, reader)
	_ = admin.Do(ctx, "CLIENT", "UNPAUSE").Err()
	wg.Wait()
	if busy < 1 {
		t.Fatalf("pool utilization %v while every connection waited: the pool was not full, the test proves nothing", busy)
	}
	if !up {
		t.Error("status down while Redis answered PING and only the pool was full")
	}
}

// goRedisLog records what go-redis logs (redis.SetLogger).
type goRedisLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *goRedisLog) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, v...))
}

// TestInstrumentLogsNothing: instrumenting a client built with go-redis's
// defaults, probing it and using it make go-redis log nothing. The
// prober's own client is built from the client's options, which hold the
// client's push notification processor once go-redis has built it: shared,
// the probe client's maintenance notification handlers could not be
// registered, and go-redis said so at every start-up.
func TestInstrumentLogsNothing(t *testing.T) {
	captured := &goRedisLog{}
	redis.SetLogger(captured)
	t.Cleanup(logging.Enable)
	c := redis.NewClient(&redis.Options{Addr: redistest.Addr(t)})
	t.Cleanup(func() { _ = c.Close() })
	mp, _ := testMeter(t)
	inst, err := Instrument(c, WithMeterProvider(mp), WithProbeInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Millisecond) // a few probes
	if err := inst.Close(); err != nil {
		t.Fatal(err)
	}
	captured.mu.Lock()
	defer captured.mu.Unlock()
	if len(captured.lines) > 0 {
		t.Errorf("go-redis logged %d lines, want none:\n%s", len(captured.lines), strings.Join(captured.lines, "\n"))
	}
}
