package otelexec

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/redistest"
)

// TestCluster runs the operations on a three-master Redis Cluster, with uids
// and services spread over many slots: no script may touch two hash tags and
// the batch operations must not send a cross-slot MGET.
//
// It runs twice: commands sent directly (WithAutoPipelining(false)), and
// through go-redis's automatic pipelining (the default, forced for a lone
// caller), which must route each command by slot and keep every result.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starting a cluster takes seconds")
	}
	cluster := redistest.StartCluster(t, 3)
	for _, mode := range []string{"direct", "autopipelined"} {
		t.Run(mode, func(t *testing.T) {
			cc := cluster.Client(t)
			opts := []Option{WithAutoPipelining(false)}
			if mode == "autopipelined" {
				opts = nil
				forcePipelining(t)
			}
			e, err := New(cc, opts...)
			if err != nil {
				t.Fatal(err)
			}
			testClusterOperations(t, cc, e, "cl-"+mode)
		})
	}
}

func testClusterOperations(t *testing.T, cc *redis.ClusterClient, e *Executor, ns string) {
	if attrs := serverAttributes(cc); attrs != nil {
		t.Fatalf("cluster client server attributes = %v, want none", attrs)
	}
	ctx := testContext(t)
	now := time.Now()

	var uids []string
	for i := range 40 {
		uids = append(uids, "user-"+strconv.Itoa(i))
	}
	for pod := range 4 {
		if err := e.SetServiceState(ctx, ns, "game", pod, FormatPodState(10-pod, now)); err != nil {
			t.Fatal(err)
		}
	}
	for i, uid := range uids {
		var err error
		switch i % 4 {
		case 0:
			_, err = e.SetLinkedPod(ctx, ns, uid, "game", 1, PersistForever)
		case 1:
			_, _, err = e.TrySetLinkedPod(ctx, ns, uid, "game", 2, 60)
		case 2:
			_, err = e.SetLinkedPodIfAbsent(ctx, ns, uid, "game", 2, PersistForever)
		case 3:
			var pod int
			pod, err = e.ComputeLinkedPod(ctx, ns, uid, "game", time.Minute, PersistForever)
			if err == nil && pod != 3 {
				t.Fatalf("ComputeLinkedPod on cluster = %d, want 3 (lowest load)", pod)
			}
		}
		if err != nil {
			t.Fatalf("uid %s: %v", uid, err)
		}
	}
	got, err := e.BatchGetLinkedPod(ctx, ns, uids, "game")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got[1]) + len(got[2]) + len(got[3]); n != len(uids) || len(got[3]) != 10 {
		t.Fatalf("BatchGetLinkedPod on cluster = %v", got)
	}
	for _, uid := range uids {
		if _, err := e.GetLinkedPodIfPersist(ctx, ns, uid, "game"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.GetLinkService(ctx, ns, uid); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := e.RemoveLinkedPod(ctx, ns, uids[0], "game", 30); err != nil || !ok {
		t.Fatalf("RemoveLinkedPod = %v, %v", ok, err)
	}
	if ok, err := e.RemoveLinkedPodWithID(ctx, ns, uids[3], "game", 3, PersistForever); err != nil || !ok {
		t.Fatalf("RemoveLinkedPodWithID = %v, %v", ok, err)
	}

	var services []string
	for i := range 20 {
		svc := "svc-" + strconv.Itoa(i)
		services = append(services, svc)
		if err := e.SetWorkloadState(ctx, ns, svc, "w"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	states, err := e.GetWorkloadStateBatch(ctx, ns, append(services, "unset"))
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != len(services) || states["svc-7"] != "w7" {
		t.Fatalf("GetWorkloadStateBatch on cluster = %v", states)
	}
	slots := map[int64]bool{}
	for _, svc := range services {
		slots[cc.ClusterKeySlot(ctx, workloadKey(ns, svc)).Val()] = true
	}
	if len(slots) < 2 {
		t.Fatalf("test services all hash to one slot; the batch test proves nothing")
	}

	// SCRIPT FLUSH on every master: each script reloads once, on whichever
	// node answers NOSCRIPT.
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		return c.ScriptFlush(ctx).Err()
	}); err != nil {
		t.Fatal(err)
	}
	before := e.ScriptStats()
	if _, err := e.SetLinkedPod(ctx, ns, uids[5], "game", 1, PersistForever); err != nil {
		t.Fatal(err)
	}
	if s := e.ScriptStats(); s.Reloads != before.Reloads+1 {
		t.Fatalf("stats after cluster flush = %+v, before %+v", s, before)
	}
}
