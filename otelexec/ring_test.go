package otelexec

import (
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/redistest"
)

// TestRing: on a Ring the scripts must be loaded on every shard (SCRIPT LOAD
// names no key, so go-redis would send it to a random shard), and a flush of
// one shard reloads there.
func TestRing(t *testing.T) {
	a, b := redistest.StartServer(t), redistest.StartServer(t)
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": a.Addr, "b": b.Addr}})
	t.Cleanup(func() { _ = ring.Close() })
	e, err := New(ring)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	if err := e.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		uid := "user-" + strconv.Itoa(i)
		if _, err := e.SetLinkedPod(ctx, "ns", uid, "game", i, PersistForever); err != nil {
			t.Fatalf("SetLinkedPod %s: %v", uid, err)
		}
	}
	if s := e.ScriptStats(); s.Misses != 0 {
		t.Fatalf("stats after preload = %+v, want no NOSCRIPT", s)
	}
	for _, srv := range []*redistest.Server{a, b} {
		if n := srv.Client(t).DBSize(ctx).Val(); n == 0 {
			t.Fatalf("shard %s holds no keys; the test does not reach both shards", srv.Addr)
		}
	}
	if err := a.Client(t).ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if _, err := e.SetLinkedPod(ctx, "ns", "user-"+strconv.Itoa(i), "game", 1, PersistForever); err != nil {
			t.Fatalf("SetLinkedPod after flushing one shard: %v", err)
		}
	}
	if s := e.ScriptStats(); s.Reloads != 1 || s.Misses != 1 {
		t.Fatalf("stats after flushing one shard = %+v, want 1 miss, 1 reload", s)
	}
}
