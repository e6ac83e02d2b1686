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

// TestLeaderDeadlineIsNotShared: the call does not end with its leader's
// deadline; a caller with time left gets its result, and it runs once.
func TestLeaderDeadlineIsNotShared(t *testing.T) {
	var g Group[int]
	var runs atomic.Int32
	leaderCtx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	slow := func(ctx context.Context) (int, error) {
		runs.Add(1)
		select {
		case <-time.After(100 * time.Millisecond):
			return 7, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	leaderDone := make(chan error, 1)
	go func() {
		_, led, err := g.Do(leaderCtx, slow)
		if !led {
			err = errors.New("the first caller did not lead")
		}
		leaderDone <- err
	}()
	time.Sleep(10 * time.Millisecond)
	v, led, err := g.Do(context.Background(), slow)
	if err != nil || v != 7 || led {
		t.Errorf("waiter got %d led=%v err=%v, want 7 from the leader's call", v, led, err)
	}
	if err := <-leaderDone; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("leader: %v, want its own deadline", err)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("fn ran %d times, want 1", n)
	}
}

// TestBound: a call nobody waits for ends at the bound.
func TestBound(t *testing.T) {
	g := Group[int]{Bound: 20 * time.Millisecond}
	ended := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, _ = g.Do(ctx, func(ctx context.Context) (int, error) {
		<-ctx.Done()
		ended <- ctx.Err()
		return 0, ctx.Err()
	})
	select {
	case err := <-ended:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("call ended with %v, want its bound", err)
		}
	case <-time.After(time.Second):
		t.Fatal("the call outlived its bound")
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
