package otelexec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/redis/go-redis/v9/push"
)

// linkTracker is the link cache's own connection to Redis, with CLIENT
// TRACKING ON BCAST and one PREFIX per namespace in use (sf:{<ns>:lk:): the
// PubSub connection of a go-redis client copied from the executor's, always
// being read, so that pushes are applied as they come. docs/design.md,
// "Link cache", has its rules: the lease (a PING every maxStale/4; entries
// served while the last answered one was sent within maxStale), the epochs,
// and a flush on every connect and loss.
type linkTracker struct {
	rdb      *redis.Client
	cache    *linkCache
	logger   *slog.Logger
	maxStale time.Duration
	ctx      context.Context
	cancel   context.CancelFunc

	mu         sync.Mutex
	ps         *redis.PubSub         // the connection run reads; nil between two
	namespaces map[string]*trackedNS // the namespaces asked for, at most maxLinkNamespaces
	down       bool                  // the connection was lost (logged once)

	// epoch changes on every connect and loss: a read under one publishes
	// only while it is current (linkCache.put).
	epoch atomic.Uint64
	acked atomic.Int64 // monotonic send time of the last answered PING, 0 if none on this connection

	done sync.WaitGroup
}

// trackedNS is a namespace the tracker watches; ready is the epoch of the
// connection whose server accepted its prefix (0: not yet).
type trackedNS struct {
	ready  atomic.Uint64
	failed bool // the server refused the prefix: never cached
}

const (
	maxLinkNamespaces = 64                  // lookups in further namespaces are not cached
	trackName         = "sfotel-link-cache" // CLIENT SETNAME and PING payload, for operators and tests
)

var errLinkTrackingUnsupported = errors.New("needs a *redis.Client (a single node or a failover client): on a Redis Cluster each master would need a tracking connection of its own, following every topology change")

func newLinkTracker(rdb redis.UniversalClient, cache *linkCache, maxStale time.Duration, logger *slog.Logger) (*linkTracker, error) {
	c, ok := rdb.(*redis.Client)
	if !ok {
		return nil, errLinkTrackingUnsupported
	}
	t := &linkTracker{cache: cache, logger: logger, maxStale: maxStale, namespaces: make(map[string]*trackedNS)}
	proc := redis.NewPushNotificationProcessor()
	if err := proc.RegisterHandler("invalidate", t, true); err != nil {
		return nil, err
	}
	o := *c.Options()
	o.Protocol, o.PushNotificationProcessor, o.OnConnect = 3, proc, t.onConnect
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	o.ClientSideCache, o.ClientSideCacheConfig, o.Limiter = nil, nil, nil
	o.PoolSize, o.MinIdleConns, o.MaxIdleConns, o.PipelinePoolSize = 1, 0, 1, 0
	o.MaxRetries, o.ClientName, o.DisableIdentity = -1, trackName, true
	t.rdb = redis.NewClient(&o)
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.done.Add(2)
	go t.run()
	go t.ping()
	return t, nil
}

// fresh reports whether an entry may be served at now: a PING sent on
// this connection no more than maxStale before now was answered.
func (t *linkTracker) fresh(now int64) bool {
	acked := t.acked.Load()
	return acked != 0 && now-acked <= int64(t.maxStale)
}

// ready returns the epoch under which a lookup in namespace may be cached,
// or 0 when it may not: the connection is down or not fresh, or the
// server has not yet accepted the namespace's prefix (it is asked now).
func (t *linkTracker) ready(namespace string, now int64) uint64 {
	var ps *redis.PubSub
	t.mu.Lock()
	ns := t.namespaces[namespace]
	if ns == nil && len(t.namespaces) < maxLinkNamespaces {
		t.namespaces[namespace] = &trackedNS{}
		ps, t.ps = t.ps, nil
	}
	t.mu.Unlock()
	if ps != nil { // run connects again, asking for the new prefix too
		go ps.Close() // not here: Close waits for a connect
	}
	if epoch := t.epoch.Load(); ns != nil && t.fresh(now) && ns.ready.Load() == epoch {
		return epoch
	}
	return 0
}

// onConnect runs on each new connection before it is used.
func (t *linkTracker) onConnect(ctx context.Context, cn *redis.Conn) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	epoch := t.epoch.Add(1)
	t.acked.Store(0)
	t.cache.flush(linkByLoss)
	for name, ns := range t.namespaces {
		if ns.failed {
			continue
		}
		err := cn.Do(ctx, "client", "tracking", "on", "bcast", "prefix", "sf:{"+name+":lk:").Err()
		if isServerError(err) {
			ns.failed = true
			t.logger.Warn("otelexec: link cache: Redis refused CLIENT TRACKING; that namespace's lookups are not cached", "error", err)
		} else if err != nil {
			return err
		} else {
			ns.ready.Store(epoch)
		}
	}
	if t.down {
		t.down = false
		t.logger.Info("otelexec: link cache: the tracking connection is back")
	}
	return nil
}

// HandlePushNotification applies an invalidation push; go-redis calls it
// before it returns the reply read after the push.
func (t *linkTracker) HandlePushNotification(_ context.Context, _ push.NotificationHandlerContext, n []any) error {
	if len(n) == 2 && n[1] == nil {
		t.cache.flush(linkByFlush)
	} else if len(n) == 2 {
		keys, _ := n[1].([]any)
		for _, k := range keys {
			if s, ok := k.(string); ok {
				t.cache.invalidate(s)
			}
		}
	}
	return nil
}

// run reads the tracking connection until close; go-redis connects it,
// applies the pushes and reconnects it.
func (t *linkTracker) run() {
	defer t.done.Done()
	backoff, dropAfter := 50*time.Millisecond, max(4*t.maxStale, time.Second)
	for {
		t.mu.Lock()
		if t.ps == nil && t.ctx.Err() == nil {
			t.ps = t.rdb.Subscribe(t.ctx)
		}
		ps, epoch := t.ps, t.epoch.Load()
		t.mu.Unlock()
		if ps == nil {
			return
		}
		msg, err := ps.ReceiveTimeout(t.ctx, dropAfter) // PINGs keep it busy
		if p, ok := msg.(*redis.Pong); ok {
			backoff = 50 * time.Millisecond
			t.pong(p.Payload)
		} else if err != nil && t.lost(ps, epoch, err) {
			select {
			case <-t.ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
		}
	}
}

// pong takes a PING's answer: if the PING was sent on this connection,
// what was queued before it has been applied.
func (t *linkTracker) pong(payload string) {
	var epoch uint64
	var sent int64
	if _, err := fmt.Sscanf(payload, trackName+" %d %d", &epoch, &sent); err != nil {
		return
	}
	t.mu.Lock()
	if t.epoch.Load() == epoch {
		t.acked.Store(max(sent, t.acked.Load()))
	}
	t.mu.Unlock()
}

// lost handles a read that failed on ps, begun under epoch: unless go-redis
// has connected again since (its OnConnect flushed after the loss), the
// epoch ends, the cache is flushed and ps replaced. It says whether to
// wait before reading again.
func (t *linkTracker) lost(ps *redis.PubSub, epoch uint64, err error) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	replaced := t.ps != ps // by ready, for a new namespace: no loss to log
	if t.epoch.Load() != epoch {
		return false
	}
	t.epoch.Add(1)
	t.acked.Store(0)
	t.cache.flush(linkByLoss)
	if t.ps == ps {
		t.ps = nil
		defer func() { _ = ps.Close() }() // after mu: Close waits for a connect's OnConnect
	}
	if replaced || t.ctx.Err() != nil {
		return false
	}
	if !t.down {
		t.down = true
		t.logger.Warn("otelexec: link cache: the tracking connection is down; lookups read Redis until it is back", "error", err)
	}
	return true
}

// ping sends a PING every quarter of maxStale, naming its epoch and send
// time.
func (t *linkTracker) ping() {
	defer t.done.Done()
	tick := time.NewTicker(max(t.maxStale/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
		}
		now := monotonic()
		t.mu.Lock()
		ps, epoch := t.ps, t.epoch.Load()
		t.mu.Unlock()
		if ps != nil {
			_ = ps.Ping(t.ctx, fmt.Sprintf("%s %d %d", trackName, epoch, now))
		}
	}
}

// close stops the tracker and waits for its goroutines.
func (t *linkTracker) close() {
	t.cancel()
	t.mu.Lock()
	ps := t.ps
	t.ps = nil
	t.mu.Unlock()
	if ps != nil {
		_ = ps.Close()
	}
	t.done.Wait()
	_ = t.rdb.Close()
}
