package redistest

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestNamespaceIsolatedAndCleaned(t *testing.T) {
	c := Client(t)
	ctx := context.Background()
	var ns string
	t.Run("inner", func(t *testing.T) {
		ns = Namespace(t)
		if err := c.Set(ctx, "sf:{"+ns+":workload:svc}", "x", 0).Err(); err != nil {
			t.Fatal(err)
		}
		keys, err := Keys(ctx, c, ns)
		if err != nil || len(keys) != 1 {
			t.Fatalf("Keys = %v, %v; want one key", keys, err)
		}
	})
	keys, err := Keys(ctx, c, ns)
	if err != nil || len(keys) != 0 {
		t.Fatalf("after the subtest Keys = %v, %v; want none", keys, err)
	}
}

func TestServerStopStart(t *testing.T) {
	s := StartServer(t)
	ctx := context.Background()
	c := s.Client(t)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING succeeded after Kill")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after restart: %v", err)
	}
}

func TestCluster(t *testing.T) {
	cl := StartCluster(t, 3)
	c := cl.Client(t)
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := c.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return n.Ping(ctx).Err() }); err != nil {
		t.Fatal(err)
	}
}
