package javatest

import (
	"context"
	"testing"

	"github.com/statefulroute/sfotel/internal/redistest"
)

// The double must behave as docs/java.md says the Java executor does;
// these tests hold it to each fact.

func TestComputeWritesTheHashFieldOnly(t *testing.T) {
	rdb := redistest.Client(t)
	ns := redistest.Namespace(t)
	ctx := context.Background()
	j := New(rdb)
	for pod, state := range map[int]string{1: "5-1000", 2: "3-1000", 3: "1-999"} {
		if err := j.SetServiceState(ctx, ns, "game", pod, state); err != nil {
			t.Fatal(err)
		}
	}
	// 3 is the least loaded but one below the threshold; 2 is exactly at
	// it, which counts as alive (>=).
	pod, err := j.ComputeLinkedPod(ctx, ns, "u", "game", 1000)
	if err != nil || pod != 2 {
		t.Fatalf("ComputeLinkedPod = %d, %v; want 2", pod, err)
	}
	if v := rdb.HGet(ctx, linkHashKey(ns, "u"), "game").Val(); v != "2" {
		t.Errorf("hash field = %q, want 2", v)
	}
	if n := rdb.Exists(ctx, linkKey(ns, "u", "game")).Val(); n != 0 {
		t.Error("the Java compute script wrote a link key")
	}
	// The field wins afterwards, whatever the states say.
	if err := j.SetServiceState(ctx, ns, "game", 4, "0-2000"); err != nil {
		t.Fatal(err)
	}
	if pod, err := j.ComputeLinkedPod(ctx, ns, "u", "game", 1000); err != nil || pod != 2 {
		t.Errorf("ComputeLinkedPod with a field = %d, %v; want 2", pod, err)
	}
	// A temporary link key is not read: compute links afresh, the field only.
	if _, err := j.SetLinkedPod(ctx, ns, "v", "game", 1, 600); err != nil {
		t.Fatal(err)
	}
	if pod, err := j.ComputeLinkedPod(ctx, ns, "v", "game", 1000); err != nil || pod != 4 {
		t.Errorf("ComputeLinkedPod over a temporary link = %d, %v; want 4", pod, err)
	}
	if v := rdb.Get(ctx, linkKey(ns, "v", "game")).Val(); v != "1" {
		t.Errorf("link key after compute = %q, want the temporary 1 untouched", v)
	}
	if pod, err := j.ComputeLinkedPod(ctx, ns, "w", "game", 5000); err != nil || pod != -1 {
		t.Errorf("ComputeLinkedPod with no pod alive = %d, %v; want -1", pod, err)
	}
}

func TestComputeFailsOnBadStates(t *testing.T) {
	rdb := redistest.Client(t)
	ctx := context.Background()
	j := New(rdb)
	for _, bad := range []string{"garbage", "-3-1000", "x-1000", "3-x"} {
		ns := redistest.Namespace(t)
		if err := j.SetServiceState(ctx, ns, "game", 1, "0-1000"); err != nil {
			t.Fatal(err)
		}
		if err := j.SetServiceState(ctx, ns, "game", 2, bad); err != nil {
			t.Fatal(err)
		}
		if pod, err := j.ComputeLinkedPod(ctx, ns, "u", "game", 0); err == nil {
			t.Errorf("state %q: ComputeLinkedPod = %d, want the whole call to fail", bad, pod)
		}
	}
	// Split at the first '-': "3-1000-7" has the heartbeat "1000-7".
	ns := redistest.Namespace(t)
	if err := j.SetServiceState(ctx, ns, "game", 1, "3-1000-7"); err != nil {
		t.Fatal(err)
	}
	if _, err := j.ComputeLinkedPod(ctx, ns, "u", "game", 0); err == nil {
		t.Error("a state with two '-' was read as load and heartbeat")
	}
}

func TestRemoveHasNoGracePeriod(t *testing.T) {
	rdb := redistest.Client(t)
	ns := redistest.Namespace(t)
	ctx := context.Background()
	j := New(rdb)
	for _, uid := range []string{"a", "b"} {
		if _, err := j.SetLinkedPod(ctx, ns, uid, "game", 3, -1); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := j.RemoveLinkedPod(ctx, ns, "a", "game", 30); err != nil || !ok {
		t.Fatalf("RemoveLinkedPod = %v, %v", ok, err)
	}
	if ok, err := j.RemoveLinkedPodWithID(ctx, ns, "b", "game", 30, 3); err != nil || !ok {
		t.Fatalf("RemoveLinkedPodWithID = %v, %v", ok, err)
	}
	for _, uid := range []string{"a", "b"} {
		if pod, err := j.GetLinkedPod(ctx, ns, uid, "game"); err != nil || pod != -1 {
			t.Errorf("%s: GetLinkedPod after a remove with 30s = %d, %v; Java removes at once", uid, pod, err)
		}
		if n := rdb.Exists(ctx, linkKey(ns, uid, "game"), linkHashKey(ns, uid)).Val(); n != 0 {
			t.Errorf("%s: %d keys left", uid, n)
		}
	}
}

func TestLinkScriptsReadTheLinkKeyOnly(t *testing.T) {
	rdb := redistest.Client(t)
	ns := redistest.Namespace(t)
	ctx := context.Background()
	j := New(rdb)
	// A hash field alone, as the compute script leaves it.
	if err := rdb.HSet(ctx, linkHashKey(ns, "u"), "game", "7").Err(); err != nil {
		t.Fatal(err)
	}
	if pod, err := j.GetLinkedPod(ctx, ns, "u", "game"); err != nil || pod != -1 {
		t.Errorf("GetLinkedPod = %d, %v; the double reads the link key only", pod, err)
	}
	if pod, err := j.SetLinkedPodIfAbsent(ctx, ns, "u", "game", 2, -1); err != nil || pod != 2 {
		t.Errorf("SetLinkedPodIfAbsent = %d, %v; want 2 (the field is not seen)", pod, err)
	}
	// tonumber: the Java side reads "0x10" as 16.
	if err := rdb.Set(ctx, linkKey(ns, "h", "game"), "0x10", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if pod, err := j.GetLinkedPodIfPersist(ctx, ns, "h", "game"); err != nil || pod != 16 {
		t.Errorf("GetLinkedPodIfPersist(0x10) = %d, %v; want 16", pod, err)
	}
	// No validation: pod -1 and braces in a uid go through to Redis.
	if _, err := j.SetLinkedPod(ctx, ns, "a{b}", "game", -1, 60); err != nil {
		t.Errorf("SetLinkedPod of input sfotel refuses: %v", err)
	}
	if v := rdb.Get(ctx, linkKey(ns, "a{b}", "game")).Val(); v != "-1" {
		t.Errorf("link key of uid a{b} = %q, want -1", v)
	}
}
