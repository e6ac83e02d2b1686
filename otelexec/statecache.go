package otelexec

import (
	"context"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/statefulroute/sfotel/internal/flight"
)

// stateCache holds pod states per service, parsed (stateSnapshot), on the
// cache core (cache.go) with admission: a stale entry is one older than
// the TTL.
type stateCache struct {
	cache[stateSnapshot, stateRead]
	ttl          time.Duration
	send         *sender
	hits, misses tally
}

// stateRead is a service's HGETALL in flight.
type stateRead struct {
	// sent is when the HGETALL in flight was sent (monotonic), 0 when none:
	// a caller does not join one sent more than the TTL before it came.
	sent   atomic.Int64
	flight flight.Group[*stateSnapshot]
}

type stateEntry = cacheEntry[stateSnapshot, stateRead]

// stateSnapshot is a service's pod states as read by one HGETALL and parsed
// once. It is shared by every reader and never modified.
type stateSnapshot struct {
	parsedStates
	asOf int64 // when the HGETALL was sent (monotonic); the states are at least this recent
	size int64 // heap bytes: the struct and parsedStates.bytes
}

var snapshotBytes = allocSize(int(unsafe.Sizeof(stateSnapshot{})))

// newStateCache returns nil when c does not ask for a state cache.
func newStateCache(c *config, ms *meters, send *sender) *stateCache {
	if c.stateCacheTTL <= 0 {
		return nil
	}
	sc := &stateCache{ttl: c.stateCacheTTL, send: send}
	sc.init(c.stateCacheMaxBytes, true)
	sc.stale = func(s *stateSnapshot, now int64) bool { return now-s.asOf >= int64(sc.ttl) }
	if ms != nil {
		sc.hits.on(ms.stateHits)
		sc.misses.on(ms.stateMisses)
	}
	return sc
}

// get returns the service's states from a fresh entry, or waits for one
// HGETALL shared by every caller that misses meanwhile; the snapshot is
// shared, never to be modified. It returns nil and no error without a
// cache or when the cache turned the service away: the caller then reads
// Redis itself, not parsing for the cache what it will not keep.
func (sc *stateCache) get(ctx context.Context, namespace, serviceName string) (*stateSnapshot, error) {
	if sc == nil {
		return nil, nil
	}
	h := sc.hash(namespace, serviceName)
	en := sc.lookup(&sc.shards[h%cacheShards], namespace, serviceName)
	now := monotonic()
	if en != nil {
		if s := en.val.Load(); s != nil && now-s.asOf < int64(sc.ttl) {
			sc.hits.add(ctx)
			return s, nil
		}
	}
	sc.misses.add(ctx)
	if err := ctx.Err(); err != nil { // no entry and no HGETALL for a read nobody waits for
		return nil, err
	}
	if en == nil {
		if en = sc.insert(h, namespace, serviceName); en == nil {
			return nil, nil
		}
	}
	if sent := en.x.sent.Load(); sent != 0 && now-sent >= int64(sc.ttl) {
		// The HGETALL in flight was sent too long before this caller came:
		// its states could be older than the TTL when they reach it.
		en.x.flight.Forget()
	}
	s, _, err := en.x.flight.Do(ctx, func(ctx context.Context) (*stateSnapshot, error) {
		return sc.refresh(ctx, en, namespace, serviceName)
	})
	return s, err
}

// refresh is one HGETALL of an entry's flight (run detached from its
// callers' contexts by flight.Group): it reads and parses the states and
// publishes them unless the entry was invalidated since it began.
func (sc *stateCache) refresh(ctx context.Context, en *stateEntry, namespace, serviceName string) (*stateSnapshot, error) {
	generation := en.generation.Load()
	sent := monotonic()
	en.x.sent.Store(sent)
	defer en.x.sent.CompareAndSwap(sent, 0)
	defer sc.settle(en)
	raw, err := readStates(ctx, sc.send, namespace, serviceName)
	if err != nil {
		return nil, err
	}
	p, err := parseStates(raw)
	if err != nil {
		return nil, err
	}
	s := &stateSnapshot{parsedStates: p, asOf: sent, size: snapshotBytes + p.bytes}
	sc.publish(en, generation, func(*stateSnapshot) (*stateSnapshot, int64) { return s, s.size })
	return s, nil
}

// invalidate drops a service's cached states and detaches its HGETALL in
// flight, so the next read sends a new HGETALL that sees the caller's write.
func (sc *stateCache) invalidate(namespace, serviceName string) {
	if sc == nil {
		return
	}
	if en, _ := sc.cache.invalidate(namespace, serviceName); en != nil {
		en.x.flight.Forget()
	}
}

// clear drops every entry, at Close.
func (sc *stateCache) clear() {
	if sc != nil {
		sc.cache.clear(true)
	}
}
