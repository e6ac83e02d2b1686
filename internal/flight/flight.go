// Package flight runs one call for many callers that want the same thing at
// once (a script reload, a pod state read), while each caller keeps its own
// deadline: a caller whose context ends stops waiting at once, and a call
// that failed only because its leader's context ended is run again by a
// caller that still has time.
package flight

import (
	"context"
	"errors"
	"sync"
)

// Group shares one call at a time. The zero value is ready to use.
type Group[T any] struct {
	mu  sync.Mutex
	cur *call[T]
}

type call[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// Do returns fn's result. When no call is in flight, the caller runs fn
// with its own context and leads; otherwise it waits for the call in flight
// or for ctx, whichever ends first. led reports whether this caller ran fn.
func (g *Group[T]) Do(ctx context.Context, fn func(context.Context) (T, error)) (val T, led bool, err error) {
	for {
		g.mu.Lock()
		c := g.cur
		if c == nil {
			c = &call[T]{done: make(chan struct{})}
			g.cur = c
			g.mu.Unlock()
			c.val, c.err = fn(ctx)
			g.mu.Lock()
			if g.cur == c {
				g.cur = nil
			}
			g.mu.Unlock()
			close(c.done)
			return c.val, true, c.err
		}
		g.mu.Unlock()
		select {
		case <-c.done:
		case <-ctx.Done():
			var zero T
			return zero, false, ctx.Err()
		}
		if isContextError(c.err) && ctx.Err() == nil {
			continue // the leader's deadline ended the call, not the work
		}
		return c.val, false, c.err
	}
}

// Forget detaches the call in flight: callers that come later start a new
// one, while the callers already waiting get the old one's result.
func (g *Group[T]) Forget() {
	g.mu.Lock()
	g.cur = nil
	g.mu.Unlock()
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
