// Package flight runs one call for many callers that want the same thing at
// once (a script reload, a pod state read), while each caller keeps its own
// deadline: the call runs detached from every caller's context, so it is
// sent once and serves whoever is still waiting when it ends, and a caller
// whose context ends stops waiting at once.
package flight

import (
	"context"
	"sync"
	"time"
)

// DefaultBound bounds a call when Group.Bound is zero.
const DefaultBound = 10 * time.Second

// Group shares one call at a time. The zero value is ready to use.
type Group[T any] struct {
	// Bound is the longest a call may run once no caller waits for it.
	Bound time.Duration

	mu  sync.Mutex
	cur *call[T]
}

type call[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// Do returns the result of the call in flight, starting one with fn when
// there is none (led reports that this caller started it). fn runs in a
// goroutine of its own, with ctx's values but not its cancellation, for at
// most Bound; the caller waits for it or for ctx, whichever ends first.
func (g *Group[T]) Do(ctx context.Context, fn func(context.Context) (T, error)) (val T, led bool, err error) {
	g.mu.Lock()
	c := g.cur
	if c == nil {
		led = true
		c = &call[T]{done: make(chan struct{})}
		g.cur = c
		bound := g.Bound
		if bound <= 0 {
			bound = DefaultBound
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bound)
		go func() {
			defer cancel()
			c.val, c.err = fn(fctx)
			g.mu.Lock()
			if g.cur == c {
				g.cur = nil
			}
			g.mu.Unlock()
			close(c.done)
		}()
	}
	g.mu.Unlock()
	select {
	case <-c.done:
		return c.val, led, c.err
	case <-ctx.Done():
		var zero T
		return zero, led, ctx.Err()
	}
}

// Forget detaches the call in flight: callers that come later start a new
// one, while the callers already waiting get the old one's result.
func (g *Group[T]) Forget() {
	g.mu.Lock()
	g.cur = nil
	g.mu.Unlock()
}
