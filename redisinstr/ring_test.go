package redisinstr

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
)

func TestRingShardsComeAndGo(t *testing.T) {
	const interval = 100 * time.Millisecond
	a, b := redistest.StartServer(t), redistest.StartServer(t)
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": a.Addr}})
	t.Cleanup(func() { _ = ring.Close() })
	mp, reader := testMeter(t)
	inst, err := Instrument(ring, WithMeterProvider(mp), WithProbeInterval(interval))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	ctx := context.Background()

	if names := poolNames(collect(t, reader)); !names[a.Addr] || len(names) != 2 { // main and pipeline pool
		t.Fatalf("pool names %v, want %s and its pipeline pool", names, a.Addr)
	}
	if !status(t, reader) {
		t.Fatal("ring status down with its shard up")
	}

	// A shard added later is observed and gets the command hook.
	ring.SetAddrs(map[string]string{"a": a.Addr, "b": b.Addr})
	for k := range 32 {
		if err := ring.Set(ctx, fmt.Sprintf("ring:%d", k), "v", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	rm := collect(t, reader)
	for _, addr := range []string{a.Addr, b.Addr} {
		pool := semconv.DBClientConnectionPoolName(addr)
		if hits := mustPoint(t, rm, contract.MetricPoolHits, pool) + mustPoint(t, rm, contract.MetricPoolMisses, pool); hits < 1 {
			t.Errorf("shard %s: no pool activity after 32 SETs", addr)
		}
		set := append(serverAttrs(addr), semconv.DBSystemNameRedis, semconv.DBNamespace("0"), semconv.DBOperationName("SET"))
		if _, n := point(rm, "db.client.operation.duration", set...); n != 1 {
			t.Errorf("shard %s: no SET duration recorded", addr)
		}
	}

	// A shard that dies makes the ring down.
	b.Kill()
	if !eventually(2*interval+100*time.Millisecond, func() bool { return !status(t, reader) }) {
		t.Fatal("ring status still up two intervals after a shard was killed")
	}
	// Removed from the ring, go-redis closes it; its series go away and the
	// ring is up again.
	ring.SetAddrs(map[string]string{"a": a.Addr})
	if !eventually(2*interval+100*time.Millisecond, func() bool { return !poolNames(collect(t, reader))[b.Addr] }) {
		t.Fatalf("pool series of the removed shard %s still there", b.Addr)
	}
	if !eventually(2*interval+100*time.Millisecond, func() bool { return status(t, reader) }) {
		t.Fatal("ring status still down after the dead shard was removed")
	}
}
