package flight

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestOneCallForManyCallers(t *testing.T) {
	var g Group[int]
	var runs atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	results := make([]int, 8)
	for i := range results {
		wg.Go(func() {
			v, _, err := g.Do(context.Background(), func(context.Context) (int, error) {
				runs.Add(1)
				<-release
				return 42, nil
			})
			if err != nil {
				t.Error(err)
			}
			results[i] = v
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Errorf("fn ran %d times, want 1", n)
	}
	for i, v := range results {
		if v != 42 {
			t.Errorf("caller %d got %d", i, v)
		}
	}
}

// TestWaiterKeepsItsDeadline: a waiter returns when its own context ends,
// however long the call in flight takes.
func TestWaiterKeepsItsDeadline(t *testing.T) {
	var g Group[int]
	release := make(chan struct{})
	defer close(release)
	go g.Do(context.Background(), func(context.Context) (int, error) { <-release; return 1, nil })
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, led, err := g.Do(ctx, func(context.Context) (int, error) { return 2, nil })
	if took := time.Since(start); took > 40*time.Millisecond+50*time.Millisecond {
		t.Errorf("waiter returned after %v, its deadline was 50ms", took)
	}
	if led || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("led=%v err=%v, want a waiter's deadline error", led, err)
	}
}

// TestLeaderDeadlineIsNotShared: when the leader's own deadline ends the
// call, a waiter with time left runs it again rather than failing.
func TestLeaderDeadlineIsNotShared(t *testing.T) {
	var g Group[int]
	leaderCtx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	started := make(chan struct{})
	go g.Do(leaderCtx, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		return 0, ctx.Err()
	})
	<-started
	v, led, err := g.Do(context.Background(), func(context.Context) (int, error) { return 7, nil })
	if err != nil || v != 7 || !led {
		t.Errorf("got %d led=%v err=%v, want 7 from a call of its own", v, led, err)
	}
}

func TestForget(t *testing.T) {
	var g Group[int]
	release := make(chan struct{})
	go g.Do(context.Background(), func(context.Context) (int, error) { <-release; return 1, nil })
	time.Sleep(20 * time.Millisecond)
	g.Forget()
	v, led, _ := g.Do(context.Background(), func(context.Context) (int, error) { return 2, nil })
	close(release)
	if v != 2 || !led {
		t.Errorf("after Forget got %d led=%v, want a new call", v, led)
	}
}
