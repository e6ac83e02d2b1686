package otelexec

import (
	"sync"
	"testing"
)

// TestRaceOnePersistentWinner races 64 goroutines setting a persistent link
// for one uid, half with TrySetLinkedPod and half with SetLinkedPodIfAbsent,
// each for its own pod. Exactly one must win, every caller must learn the
// winner, and Redis must hold that one persistent link.
func TestRaceOnePersistentWinner(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)
	const n = 64
	type result struct {
		pod, current int
		won          bool
		err          error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			r := result{pod: i}
			if i%2 == 0 {
				r.won, r.current, r.err = e.TrySetLinkedPod(ctx, ns, "racer", "game", i, PersistForever)
			} else {
				r.current, r.err = e.SetLinkedPodIfAbsent(ctx, ns, "racer", "game", i, PersistForever)
				r.won = r.current == i
			}
			results[i] = r
		})
	}
	close(start)
	wg.Wait()

	winners := 0
	winner := -1
	for _, r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.won {
			winners++
			winner = r.pod
		}
	}
	if winners != 1 {
		t.Fatalf("%d winners, want exactly 1: %+v", winners, results)
	}
	for _, r := range results {
		if r.current != winner {
			t.Fatalf("caller for pod %d was told %d, winner is %d", r.pod, r.current, winner)
		}
	}
	link := "sf:{" + ns + ":lk:racer}game"
	if v, _ := raw.Get(ctx, link).Int(); v != winner || ttl(t, raw, link) != -1 {
		t.Fatalf("raw link = %d (TTL %v), want persistent %d", v, ttl(t, raw, link), winner)
	}
	if h := raw.HGetAll(ctx, "sf:{"+ns+":lk:racer}").Val(); len(h) != 1 || h["game"] != raw.Get(ctx, link).Val() {
		t.Fatalf("raw link hash = %v", h)
	}
}
