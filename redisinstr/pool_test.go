package redisinstr

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
)

func TestPoolMetricsFollowActivity(t *testing.T) {
	const poolSize = 8
	addr := redistest.Addr(t)
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: poolSize, MinIdleConns: 0, MaxIdleConns: 6})
	t.Cleanup(func() { _ = c.Close() })
	mp, reader := testMeter(t)
	inst, err := Instrument(c, WithMeterProvider(mp), WithProbeInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	ctx := context.Background()

	pool := semconv.DBClientConnectionPoolName(addr)
	idle, used := semconv.DBClientConnectionStateIdle, semconv.DBClientConnectionStateUsed

	// Three sticky connections, each holding one pool connection in use.
	var conns []*redis.Conn
	for range 3 {
		cn := c.Conn()
		if err := cn.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, cn)
	}
	rm := collect(t, reader)
	total := float64(c.PoolStats().TotalConns)
	if got := mustPoint(t, rm, contract.MetricPoolConnectionCount, pool, used); got != 3 {
		t.Errorf("used connections = %v, want 3", got)
	}
	if got := mustPoint(t, rm, contract.MetricPoolConnectionCount, pool, idle); got != total-3 {
		t.Errorf("idle connections = %v, want %v", got, total-3)
	}
	if got := mustPoint(t, rm, contract.MetricPoolUtilization, pool); got != 3.0/poolSize {
		t.Errorf("utilization = %v, want %v", got, 3.0/poolSize)
	}
	if got := mustPoint(t, rm, contract.MetricPoolMax, pool); got != poolSize {
		t.Errorf("max = %v, want %d", got, poolSize)
	}
	if got := mustPoint(t, rm, contract.MetricPoolIdleMax, pool); got != 6 {
		t.Errorf("idle max = %v, want 6", got)
	}
	if got := mustPoint(t, rm, contract.MetricPoolIdleMin, pool); got != 0 {
		t.Errorf("idle min = %v, want 0", got)
	}
	// At least the two connections beyond the prober's were dialed: misses.
	if got := mustPoint(t, rm, contract.MetricPoolMisses, pool); got < 2 {
		t.Errorf("misses = %v, want >= 2", got)
	}

	for _, cn := range conns {
		if err := cn.Close(); err != nil {
			t.Fatal(err)
		}
	}
	hitsBefore := mustPoint(t, rm, contract.MetricPoolHits, pool)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rm = collect(t, reader)
	if got := mustPoint(t, rm, contract.MetricPoolConnectionCount, pool, used); got != 0 {
		t.Errorf("used connections after release = %v, want 0", got)
	}
	if got := mustPoint(t, rm, contract.MetricPoolConnectionCount, pool, idle); got != float64(c.PoolStats().TotalConns) {
		t.Errorf("idle connections after release = %v, want %d", got, c.PoolStats().TotalConns)
	}
	if got := mustPoint(t, rm, contract.MetricPoolHits, pool); got <= hitsBefore {
		t.Errorf("hits = %v after a PING on an idle connection, want > %v", got, hitsBefore)
	}

	// A pipeline runs on the dedicated pipeline pool, a series of its own.
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error { p.Ping(ctx); p.Ping(ctx); return nil }); err != nil {
		t.Fatal(err)
	}
	rm = collect(t, reader)
	pipePool := semconv.DBClientConnectionPoolName(addr + pipelinePoolSuffix)
	if got := mustPoint(t, rm, contract.MetricPoolMisses, pipePool); got < 1 {
		t.Errorf("pipeline pool misses = %v, want >= 1", got)
	}
	if got := mustPoint(t, rm, contract.MetricPoolMax, pipePool); got != redis.DefaultPipelinePoolSize {
		t.Errorf("pipeline pool max = %v, want %d", got, redis.DefaultPipelinePoolSize)
	}
}

func TestPoolWaitsAndTimeouts(t *testing.T) {
	addr := redistest.Addr(t)
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1, PoolTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	mp, reader := testMeter(t)
	inst, err := Instrument(c, WithMeterProvider(mp), WithProbeInterval(time.Hour), WithPoolName("single"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	ctx := context.Background()

	held := c.Conn()
	if err := held.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// The only connection is held: one wait that ends in a timeout.
	if err := c.Ping(ctx).Err(); !errors.Is(err, redis.ErrPoolTimeout) {
		t.Fatalf("PING with the only connection held: %v, want pool timeout", err)
	}
	// Released after 50ms: one wait that ends with the connection.
	released := make(chan struct{})
	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = held.Close()
		close(released)
	}()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING waiting for the released connection: %v", err)
	}
	<-released

	rm := collect(t, reader)
	pool := semconv.DBClientConnectionPoolName("single")
	if got := mustPoint(t, rm, contract.MetricPoolTimeouts, pool); got != 1 {
		t.Errorf("timeouts = %v, want 1", got)
	}
	// go-redis counts only the waits that got a connection.
	if got := mustPoint(t, rm, contract.MetricPoolWaits, pool); got != 1 {
		t.Errorf("waits = %v, want 1", got)
	}
	if got := mustPoint(t, rm, contract.MetricPoolWaitTime, pool); got < 0.04 || got > 0.2 {
		t.Errorf("wait time = %vs, want about 0.05s", got)
	}
	if got := mustPoint(t, rm, contract.MetricPoolUtilization, pool); got != 0 {
		t.Errorf("utilization after release = %v, want 0", got)
	}
}

// TestPoolPendingRequests: a caller waiting for the only connection is a
// pending request until it gets it.
func TestPoolPendingRequests(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: redistest.Addr(t), PoolSize: 1, PoolTimeout: 10 * time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	mp, reader := testMeter(t)
	inst, err := Instrument(c, WithMeterProvider(mp), WithProbeInterval(time.Hour), WithPoolName("single"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	ctx := context.Background()
	pool := semconv.DBClientConnectionPoolName("single")
	held := c.Conn()
	if err := held.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if got := mustPoint(t, collect(t, reader), contract.MetricPoolPending, pool); got != 0 {
		t.Fatalf("pending requests with none waiting = %v, want 0", got)
	}
	waited := make(chan error, 1)
	go func() { waited <- c.Ping(ctx).Err() }()
	for deadline := time.Now().Add(5 * time.Second); mustPoint(t, collect(t, reader), contract.MetricPoolPending, pool) != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("pending requests never reached 1 with a caller waiting")
		}
	}
	_ = held.Close()
	if err := <-waited; err != nil {
		t.Fatalf("PING waiting for the released connection: %v", err)
	}
	if got := mustPoint(t, collect(t, reader), contract.MetricPoolPending, pool); got != 0 {
		t.Errorf("pending requests after the wait = %v, want 0", got)
	}
}
