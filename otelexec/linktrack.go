package otelexec

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// linkTracker is the link cache's own connection to Redis: RESP3, with
// CLIENT TRACKING ON BCAST and one PREFIX per namespace in use
// (sf:{<ns>:lk:), so the server pushes an invalidation for every write to
// a link key or link hash of those namespaces, whoever writes it. Reads do
// not go through it: BCAST does not depend on what a connection read.
//
// It also carries the lease that bounds staleness. Every ping interval it
// sends a PING; the server answers it after every invalidation it had
// queued for this connection, so once the answer is read, every write
// whose reply reached its writer before the PING was sent has been
// applied. acked is when the last answered PING was sent: an entry is
// served only while now-acked <= maxStale. A PING unanswered for
// dropAfter closes the connection; any loss of the connection flushes the
// cache, since invalidations may have been lost with it.
type linkTracker struct {
	dial     func(ctx context.Context) (net.Conn, error)
	auth     func(ctx context.Context) (user, pass string, err error)
	cache    *linkCache
	logger   *slog.Logger
	maxStale time.Duration

	mu         sync.Mutex
	conn       net.Conn
	w          *bufio.Writer
	pending    []trackReq            // replies expected on conn, in order
	namespaces map[string]*trackedNS // the namespaces asked for, at most maxLinkNamespaces
	down       bool                  // the last connect failed or the connection was lost (logged once)

	// epoch changes on every connect and every loss: an entry read under
	// one epoch is published only if it is still current (linkCache.put).
	epoch atomic.Uint64
	up    atomic.Bool
	acked atomic.Int64 // monotonic send time of the last answered PING, 0 if none on this connection

	stop chan struct{}
	done sync.WaitGroup
}

// trackedNS is a namespace the tracker watches; ready is the epoch of the
// connection whose server accepted its prefix (0: not yet).
type trackedNS struct {
	ready  atomic.Uint64
	failed bool // the server refused the prefix: never cached
}

// trackReq is a reply the tracker waits for: a PING's (with its send
// time) or a namespace's CLIENT TRACKING.
type trackReq struct {
	sent int64
	ns   *trackedNS
}

const (
	// maxLinkNamespaces bounds the prefixes one executor tracks; lookups
	// in further namespaces are not cached.
	maxLinkNamespaces = 64
	// trackName is the tracking connection's CLIENT SETNAME and PING
	// payload, so operators and tests can find it.
	trackName = "sfotel-link-cache"
)

var errLinkTrackingUnsupported = errors.New("needs a *redis.Client (a single node or a failover client): on a Redis Cluster each master would need a tracking connection of its own, following every topology change")

func newLinkTracker(rdb redis.UniversalClient, cache *linkCache, maxStale time.Duration, logger *slog.Logger) (*linkTracker, error) {
	c, ok := rdb.(*redis.Client)
	if !ok {
		return nil, errLinkTrackingUnsupported
	}
	o := c.Options()
	if o.StreamingCredentialsProvider != nil {
		return nil, errors.New("a client with a StreamingCredentialsProvider is not supported")
	}
	t := &linkTracker{
		cache: cache, logger: logger, maxStale: maxStale,
		namespaces: make(map[string]*trackedNS),
		stop:       make(chan struct{}),
	}
	t.dial = func(ctx context.Context) (net.Conn, error) { return o.Dialer(ctx, o.Network, o.Addr) }
	t.auth = func(ctx context.Context) (string, string, error) {
		switch {
		case o.CredentialsProviderContext != nil:
			return o.CredentialsProviderContext(ctx)
		case o.CredentialsProvider != nil:
			u, p := o.CredentialsProvider()
			return u, p, nil
		}
		return o.Username, o.Password, nil
	}
	t.done.Add(2)
	go t.run(o.DialTimeout)
	go t.ping()
	return t, nil
}

// fresh reports whether an entry may be served at now: the connection is
// up and a PING sent no more than maxStale before now was answered.
func (t *linkTracker) fresh(now int64) bool {
	return t.up.Load() && now-t.acked.Load() <= int64(t.maxStale)
}

// ready returns the epoch under which a lookup in namespace may be cached,
// or 0 when it may not: the connection is down or not fresh, or the
// server has not yet accepted the namespace's prefix (it is asked now).
func (t *linkTracker) ready(namespace string, now int64) uint64 {
	if !t.fresh(now) {
		return 0
	}
	epoch := t.epoch.Load()
	t.mu.Lock()
	defer t.mu.Unlock()
	ns := t.namespaces[namespace]
	if ns == nil {
		if len(t.namespaces) >= maxLinkNamespaces {
			return 0
		}
		ns = &trackedNS{}
		t.namespaces[namespace] = ns
		if t.conn != nil {
			t.track(namespace, ns)
		}
		return 0
	}
	if ns.ready.Load() != epoch {
		return 0
	}
	return epoch
}

// track asks the server for a namespace's invalidations. Called with mu held.
func (t *linkTracker) track(namespace string, ns *trackedNS) {
	if ns.failed {
		return
	}
	t.send(trackReq{ns: ns}, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "sf:{"+namespace+":lk:")
}

// send writes one command and records the reply it expects. Called with mu
// held. A write error is left to the reader, which sees the connection fail.
func (t *linkTracker) send(req trackReq, args ...string) {
	writeCommand(t.w, args...)
	if t.w.Flush() == nil {
		t.pending = append(t.pending, req)
	} else {
		_ = t.conn.Close()
	}
}

// run connects, reads until the connection fails, flushes the cache, and
// connects again, until close.
func (t *linkTracker) run(dialTimeout time.Duration) {
	defer t.done.Done()
	backoff := 50 * time.Millisecond
	for {
		conn, r, err := t.connect(dialTimeout)
		if err == nil {
			backoff = 50 * time.Millisecond
			err = t.read(conn, r)
			t.lost(conn)
		}
		select {
		case <-t.stop:
			return
		default:
		}
		t.mu.Lock()
		if !t.down {
			t.down = true
			t.logger.Warn("otelexec: link cache: the tracking connection is down; lookups read Redis until it is back", "error", err)
		}
		t.mu.Unlock()
		select {
		case <-t.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// connect dials, says HELLO 3 (with the client's credentials) and asks for
// every namespace's invalidations and a first PING.
func (t *linkTracker) connect(dialTimeout time.Duration) (net.Conn, *bufio.Reader, error) {
	ctx, cancel := context.WithTimeout(context.Background(), max(dialTimeout, time.Second))
	defer cancel()
	user, pass, err := t.auth(ctx)
	if err != nil {
		return nil, nil, err
	}
	conn, err := t.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	r, w := bufio.NewReader(conn), bufio.NewWriter(conn)
	hello := []string{"HELLO", "3"}
	if pass != "" {
		hello = append(hello, "AUTH", cmp(user, "default"), pass)
	}
	writeCommand(w, append(hello, "SETNAME", trackName)...)
	if err := w.Flush(); err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	v, err := readRESP(r)
	if err == nil {
		err = asError(v)
	}
	if err != nil || ctx.Err() != nil {
		_ = conn.Close()
		return nil, nil, errors.Join(err, ctx.Err())
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.stop:
		_ = conn.Close()
		return nil, nil, errors.New("closed")
	default:
	}
	t.conn, t.w, t.pending = conn, w, nil
	t.epoch.Add(1)
	t.up.Store(true)
	for name, ns := range t.namespaces {
		t.track(name, ns)
	}
	t.send(trackReq{sent: monotonic()}, "PING", trackName)
	if t.down {
		t.down = false
		t.logger.Info("otelexec: link cache: the tracking connection is back")
	}
	return conn, r, nil
}

// read applies the invalidations and answers that come on conn, in order,
// until it fails.
func (t *linkTracker) read(conn net.Conn, r *bufio.Reader) error {
	for {
		v, err := readRESP(r)
		if err != nil {
			return err
		}
		if p, ok := v.(respPush); ok {
			if len(p) == 2 && p[0] == "invalidate" {
				keys, _ := p[1].([]any)
				if p[1] == nil {
					t.cache.flush(linkByFlush)
				}
				for _, k := range keys {
					if s, ok := k.(string); ok {
						t.cache.invalidate(s)
					}
				}
			}
			continue
		}
		t.mu.Lock()
		if t.conn != conn || len(t.pending) == 0 {
			t.mu.Unlock()
			return errors.New("unexpected reply")
		}
		req := t.pending[0]
		t.pending = t.pending[1:]
		epoch := t.epoch.Load()
		switch {
		case req.ns != nil && asError(v) != nil:
			req.ns.failed = true
			t.logger.Warn("otelexec: link cache: Redis refused CLIENT TRACKING; that namespace's lookups are not cached", "error", asError(v))
		case req.ns != nil:
			req.ns.ready.Store(epoch)
		default:
			t.acked.Store(req.sent)
		}
		t.mu.Unlock()
	}
}

// lost ends conn's epoch and flushes the cache: invalidations may have been
// lost with it.
func (t *linkTracker) lost(conn net.Conn) {
	_ = conn.Close()
	t.mu.Lock()
	if t.conn == conn {
		t.conn, t.w, t.pending = nil, nil, nil
		t.up.Store(false)
		t.acked.Store(0)
		t.epoch.Add(1)
	}
	t.mu.Unlock()
	t.cache.flush(linkByLoss)
}

// ping sends a PING every quarter of maxStale, and closes the connection
// when one has waited longer than dropAfter for its answer.
func (t *linkTracker) ping() {
	defer t.done.Done()
	tick := time.NewTicker(max(t.maxStale/4, time.Millisecond))
	defer tick.Stop()
	dropAfter := max(4*t.maxStale, time.Second)
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
		}
		now := monotonic()
		t.mu.Lock()
		if t.conn != nil {
			oldest := int64(0)
			for _, req := range t.pending {
				if req.ns == nil {
					oldest = req.sent
					break
				}
			}
			if oldest != 0 && now-oldest > int64(dropAfter) {
				_ = t.conn.Close() // the reader fails, and the cache is flushed
			} else {
				t.send(trackReq{sent: now}, "PING", trackName)
			}
		}
		t.mu.Unlock()
	}
}

// close stops the tracker and waits for its goroutines.
func (t *linkTracker) close() {
	t.mu.Lock()
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	if t.conn != nil {
		_ = t.conn.Close()
	}
	t.mu.Unlock()
	t.done.Wait()
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// writeCommand writes a command as a RESP array of bulk strings.
func writeCommand(w *bufio.Writer, args ...string) {
	w.WriteByte('*')
	w.WriteString(strconv.Itoa(len(args)))
	w.WriteString("\r\n")
	for _, a := range args {
		w.WriteByte('$')
		w.WriteString(strconv.Itoa(len(a)))
		w.WriteString("\r\n")
		w.WriteString(a)
		w.WriteString("\r\n")
	}
}

// respPush is a RESP3 push frame; respError an error reply.
type (
	respPush  []any
	respError string
)

func asError(v any) error {
	if e, ok := v.(respError); ok {
		return errors.New(string(e))
	}
	return nil
}

// readRESP reads one RESP3 value: strings, numbers and booleans as
// strings, null as nil, aggregates (maps flattened) as []any, pushes as
// respPush. The tracker needs no more.
func readRESP(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("bad RESP line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+', ':', ',', '#', '(':
		return body, nil
	case '-':
		return respError(body), nil
	case '_':
		return nil, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		if kind == '!' {
			return respError(b[:n]), nil
		}
		return string(b[:n]), nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		if kind == '%' || kind == '|' {
			n *= 2
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = readRESP(r); err != nil {
				return nil, err
			}
		}
		switch kind {
		case '>':
			return respPush(out), nil
		case '|': // attributes precede the value they describe
			return readRESP(r)
		}
		return out, nil
	}
	return nil, fmt.Errorf("bad RESP type %q", kind)
}
