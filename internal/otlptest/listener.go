package otlptest

import (
	"net"
	"sync"
)

// gateListener is a net.Listener that can stop listening (refuse) and listen
// again on the same address while the server that accepts from it keeps
// running: the gRPC and HTTP servers never see the gap.
type gateListener struct {
	addr net.Addr

	mu     sync.Mutex
	ln     net.Listener // nil while refusing
	opened chan struct{}
	conns  map[*trackedConn]struct{}
	closed bool
	done   chan struct{}
}

func listenGate() (*gateListener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	opened := make(chan struct{})
	close(opened)
	return &gateListener{
		addr:   ln.Addr(),
		ln:     ln,
		opened: opened,
		conns:  make(map[*trackedConn]struct{}),
		done:   make(chan struct{}),
	}, nil
}

func (g *gateListener) Accept() (net.Conn, error) {
	for {
		g.mu.Lock()
		ln, opened, closed := g.ln, g.opened, g.closed
		g.mu.Unlock()
		if closed {
			return nil, net.ErrClosed
		}
		if ln == nil {
			select {
			case <-opened:
				continue
			case <-g.done:
				return nil, net.ErrClosed
			}
		}
		c, err := ln.Accept()
		if err != nil {
			g.mu.Lock()
			replaced, closed := g.ln != ln, g.closed
			g.mu.Unlock()
			if closed {
				return nil, net.ErrClosed
			}
			if replaced { // closed by refuse: wait for the next listener
				continue
			}
			return nil, err
		}
		tc := &trackedConn{Conn: c, g: g}
		g.mu.Lock()
		if g.ln != ln || g.closed { // refused while accepting
			g.mu.Unlock()
			_ = c.Close()
			continue
		}
		g.conns[tc] = struct{}{}
		g.mu.Unlock()
		return tc, nil
	}
}

// refuse stops listening and closes every connection accepted so far.
func (g *gateListener) refuse() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln != nil {
		_ = g.ln.Close()
		g.ln = nil
		g.opened = make(chan struct{})
	}
	for c := range g.conns {
		_ = c.Conn.Close()
		delete(g.conns, c)
	}
}

// reopen listens again on the same address.
func (g *gateListener) reopen() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln != nil || g.closed {
		return nil
	}
	ln, err := net.Listen("tcp", g.addr.String())
	if err != nil {
		return err
	}
	g.ln = ln
	close(g.opened)
	return nil
}

func (g *gateListener) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	close(g.done)
	if g.ln != nil {
		_ = g.ln.Close()
	}
	for c := range g.conns {
		_ = c.Conn.Close()
		delete(g.conns, c)
	}
	return nil
}

func (g *gateListener) Addr() net.Addr { return g.addr }

type trackedConn struct {
	net.Conn
	g    *gateListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.g.mu.Lock()
		delete(c.g.conns, c)
		c.g.mu.Unlock()
	})
	return c.Conn.Close()
}
