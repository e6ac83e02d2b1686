package redistest

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP proxy in front of a Redis server that a fault test
// controls: it can lose the reply to a command after the server ran it,
// hold a command before the server sees it, or answer nothing at all. It
// works on the byte stream: a "command" is one read from the client that
// contains the pattern (RESP-encoded commands of one client arrive whole in
// one read in practice for the small commands these tests send).
type Proxy struct {
	Addr   string
	target string
	ln     net.Listener

	mu       sync.Mutex
	dropNext []byte        // lose the reply to the next command containing this
	hold     []byte        // delay commands containing this by holdFor
	holdFor  time.Duration //
	silent   bool          // accept, read, never forward or answer
	delay    time.Duration // added to every read, each way
	conns    []net.Conn

	// Seen counts the client reads that contained the pattern given to
	// Count.
	seen    atomic.Int64
	counted []byte
	dropped atomic.Int64
}

// StartProxy starts a proxy to target on a free loopback port, closed when
// the test ends.
func StartProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: proxy: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln}
	go p.accept()
	tb.Cleanup(p.Close)
	return p
}

// DropReplyTo makes the proxy forward the next command containing pattern
// to the server, wait for the server's reply, and then close the client's
// connection instead of passing the reply on: the command ran, the caller
// cannot know it.
func (p *Proxy) DropReplyTo(pattern string) {
	p.mu.Lock()
	p.dropNext = []byte(pattern)
	p.mu.Unlock()
}

// Hold delays every command containing pattern by d before the server sees
// it (a slow node, a partition that heals).
func (p *Proxy) Hold(pattern string, d time.Duration) {
	p.mu.Lock()
	p.hold, p.holdFor = []byte(pattern), d
	p.mu.Unlock()
}

// Delay adds d to every read the proxy passes on, each way: a network
// farther away (d each way on a round trip, 2d in all).
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Silence makes the proxy accept connections and read from them but never
// forward or answer anything: a Redis that accepts TCP and hangs.
func (p *Proxy) Silence() {
	p.mu.Lock()
	p.silent = true
	p.mu.Unlock()
}

// Count counts, from now on, the commands containing pattern; Seen returns
// the count.
func (p *Proxy) Count(pattern string) {
	p.mu.Lock()
	p.counted = []byte(pattern)
	p.mu.Unlock()
	p.seen.Store(0)
}

// Seen is the number of commands containing the Count pattern.
func (p *Proxy) Seen() int64 { return p.seen.Load() }

// Dropped is the number of replies the proxy lost.
func (p *Proxy) Dropped() int64 { return p.dropped.Load() }

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, client)
		silent := p.silent
		p.mu.Unlock()
		if silent {
			go func() { _, _ = io.Copy(io.Discard, client) }()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, server)
		p.mu.Unlock()
		go p.serve(client, server)
	}
}

// serve passes one connection's bytes both ways, applying the faults.
func (p *Proxy) serve(client, server net.Conn) {
	defer client.Close()
	defer server.Close()
	var dropping atomic.Bool // the reply now coming from the server is to be lost
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				if dropping.Load() {
					p.dropped.Add(1)
					_ = client.Close()
					return
				}
				p.mu.Lock()
				delay := p.delay
				p.mu.Unlock()
				time.Sleep(delay)
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				_ = client.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			p.mu.Lock()
			if p.counted != nil && bytes.Contains(chunk, p.counted) {
				p.seen.Add(1)
			}
			wait := p.delay
			if p.hold != nil && bytes.Contains(chunk, p.hold) {
				wait += p.holdFor
			}
			if p.dropNext != nil && bytes.Contains(chunk, p.dropNext) {
				p.dropNext = nil
				dropping.Store(true)
			}
			p.mu.Unlock()
			time.Sleep(wait)
			if _, werr := server.Write(chunk); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
