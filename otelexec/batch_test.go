package otelexec

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
)

// manyUIDs returns n valid uids.
func manyUIDs(n int) []string {
	uids := make([]string, n)
	for i := range uids {
		uids[i] = "user-" + strconv.Itoa(i)
	}
	return uids
}

// TestBatchStopsOnCancel: a huge batch with a canceled context returns at
// once, and one with a short deadline returns within it, whatever the
// batch's size: the work goes in chunks, and the context is checked
// between them.
func TestBatchStopsOnCancel(t *testing.T) {
	e, _, ns := newTestExecutor(t)
	uids := manyUIDs(200_000)
	if raceEnabled {
		uids = uids[:50_000]
	}

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if _, err := e.BatchGetLinkedPod(canceled, ns, uids, "game"); !errors.Is(err, context.Canceled) {
		t.Fatalf("BatchGetLinkedPod with a canceled context: %v", err)
	}
	if took := time.Since(start); took > 20*time.Millisecond {
		t.Errorf("BatchGetLinkedPod with a canceled context took %v", took)
	}

	const deadline = 30 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start = time.Now()
	_, err := e.BatchGetLinkedPod(ctx, ns, uids, "game")
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("BatchGetLinkedPod of %d uids within %v: %v", len(uids), deadline, err)
	}
	// One chunk's round trip past the deadline at most.
	if took > deadline+50*time.Millisecond {
		t.Errorf("BatchGetLinkedPod returned %v after a %v deadline", took, deadline)
	}

	start = time.Now()
	if _, err := e.GetWorkloadStateBatch(canceled, ns, uids); !errors.Is(err, context.Canceled) {
		t.Fatalf("GetWorkloadStateBatch with a canceled context: %v", err)
	}
	if took := time.Since(start); took > 20*time.Millisecond {
		t.Errorf("GetWorkloadStateBatch with a canceled context took %v", took)
	}
}

// TestBatchSpansChunks: a batch larger than one chunk reads every uid.
func TestBatchSpansChunks(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)
	uids := manyUIDs(3*batchChunk + 7)
	pipe := raw.Pipeline()
	for i, uid := range uids {
		if i%3 == 0 {
			pipe.Set(ctx, linkKey(ns, uid, "game"), strconv.Itoa(i%5), time.Minute)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	pods, err := e.BatchGetLinkedPod(ctx, ns, uids, "game")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for pod, us := range pods {
		for _, u := range us {
			i, _ := strconv.Atoi(u[len("user-"):])
			if i%3 != 0 || i%5 != pod {
				t.Fatalf("%s read as pod %d", u, pod)
			}
			n++
		}
	}
	if want := (len(uids) + 2) / 3; n != want {
		t.Errorf("%d uids linked, want %d", n, want)
	}
}
