package otelexec

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/statefulroute/sfotel/internal/flight"
)

// DefaultStateCacheMaxBytes is the memory WithStateCache holds at most
// unless WithStateCacheMaxBytes says otherwise: 64 MiB.
const DefaultStateCacheMaxBytes = 64 << 20

// WithStateCache makes the executor keep each service's pod states in memory
// for at most ttl, so GetServiceState and ComputeLinkedPod read them from
// Redis (HGETALL) about once per ttl per service instead of once per call.
// ttl <= 0 turns the cache off, which is the default. ComputeLinkedPod
// refuses an aliveWithin not longer than ttl: a cached heartbeat is up to
// ttl old when it is read, so with such a window most logins would find no
// live pod.
//
// A state read through the cache is never older than ttl: its age is counted
// from the moment the HGETALL that fetched it was sent. When many callers
// miss at once, one HGETALL serves them all, and each of them waits for it
// only as long as its own context allows (the HGETALL itself runs on, for at
// most 10 s, and serves whoever still waits). SetServiceState on the same
// executor drops the service's states, so the executor reads its own
// writes; writes by other processes (pods reporting their heartbeats) are
// seen within ttl. Failed reads are not cached.
//
// The states are parsed once, when the HGETALL returns: a ComputeLinkedPod
// on a cached service is one pass over the pods' loads and heartbeats, and
// GetServiceState still returns each state exactly as stored.
//
// The cache holds at most WithStateCacheMaxBytes bytes
// (DefaultStateCacheMaxBytes unless set), however many services that is.
// When a read would take it over, services are dropped in CLOCK order: one
// not read since the last sweep goes first, so the services in use stay and
// the ones read once go. Once it is full, a service it does not hold is
// kept only if it is read again soon after (or if what it would displace
// has expired): otherwise it is read from Redis as without a cache (by
// its caller alone, its states not parsed for the cache) and not kept, so a loop
// over more services than the cache holds still hits the ones it holds,
// instead of evicting each one just before it is read again. A read that
// finds its service cached waits for no other service's read, eviction or
// admission: it takes no lock that those hold for longer than a map update.
//
// The cache's hits and misses are exported as
// stateful_executor_state_cache_{hits,misses}_total and as
// stateful_executor_cache_hit_ratio{cache_type="state"}; a miss is any read
// that waited for Redis, its own HGETALL or one shared with other callers.
func WithStateCache(ttl time.Duration) Option {
	return optionFunc(func(c *config) { c.stateCacheTTL = ttl })
}

// WithStateCacheMaxBytes bounds the memory the state cache (WithStateCache)
// holds, in bytes of Go heap as the allocator rounds them: for each cached
// service 24 bytes per pod plus the length of its state string (the 13
// bytes of "12-1764000000": 37 bytes a pod), and about 340 bytes for the
// entry, its namespace and service names and its slot in the cache's map;
// plus an admission table of a 64th of n, at most 32 KiB. A service of 16
// pods takes about 1 KiB, one of 5000 pods about 184 KiB: the default,
// DefaultStateCacheMaxBytes (64 MiB), holds about 65,000 of the first or
// 350 of the second. What the cache accounts is what the Go heap holds for
// it, within a few percent (the tests measure it). A service whose states
// alone take more than n is read from Redis on every call, never cached.
// Any n > 0 is valid: with one below what a service's entry takes
// (about 340 bytes and its admission table's 128), nothing is cached and
// every read goes to Redis. New returns an error naming the option for
// n <= 0. Without WithStateCache it has no effect.
func WithStateCacheMaxBytes(n int64) Option {
	return optionFunc(func(c *config) {
		if n <= 0 {
			c.refuse(fmt.Errorf("otelexec: WithStateCacheMaxBytes: must be > 0, got %d", n))
			return
		}
		c.stateCacheMaxBytes = n
	})
}

// stateCache holds pod states per service, parsed (stateSnapshot), on the
// cache core (cache.go) with admission: a stale entry is one older than
// the TTL.
type stateCache struct {
	cache[stateSnapshot, stateRead]
	ttl          time.Duration
	fetch        fetchFunc // the HGETALL
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

// fetchFunc reads a service's pod state hash from Redis.
type fetchFunc func(ctx context.Context, namespace, serviceName string) (map[string]string, error)

var snapshotBytes = allocSize(int(unsafe.Sizeof(stateSnapshot{})))

// newStateCache returns nil when c does not ask for a state cache. It reads
// Redis with fetch. Its hits and misses are counted here and, with metrics,
// on ms's counters.
func newStateCache(c *config, ms *meters, fetch fetchFunc) *stateCache {
	if c.stateCacheTTL <= 0 {
		return nil
	}
	sc := &stateCache{ttl: c.stateCacheTTL, fetch: fetch}
	sc.init(c.stateCacheMaxBytes, true)
	sc.stale = func(s *stateSnapshot, now int64) bool { return now-s.asOf >= int64(sc.ttl) }
	if ms != nil {
		sc.hits.c, sc.misses.c = ms.stateHits, ms.stateMisses
		ms.stateHits.Add(context.Background(), 0) // reported from the start, as the script cache's
		ms.stateMisses.Add(context.Background(), 0)
	}
	return sc
}

// get returns the service's states from a fresh entry (nil without a
// cache), or waits for one HGETALL shared by every caller that misses meanwhile. The snapshot is
// shared: read it, never modify it. It returns nil and no error when the
// cache turned the service away (full, and the service not read lately):
// the caller then reads Redis itself, as without a cache, since states the
// cache will not keep are not worth parsing for it.
func (sc *stateCache) get(ctx context.Context, namespace, serviceName string) (*stateSnapshot, error) {
	if sc == nil {
		return nil, nil
	}
	h := sc.hash(namespace, serviceName)
	en := sc.lookup(&sc.shards[h%cacheShards], namespace, serviceName)
	now := monotonic()
	if en == nil {
		if err := ctx.Err(); err != nil { // make no entry for a read that cannot wait
			sc.misses.add(ctx)
			return nil, err
		}
		var kept bool
		if en, kept = sc.insert(h, namespace, serviceName); !kept {
			sc.misses.add(ctx)
			sc.settle(en)
			return nil, nil
		}
	}
	if s := en.val.Load(); s != nil && now-s.asOf < int64(sc.ttl) {
		sc.hits.add(ctx)
		return s, nil
	}
	sc.misses.add(ctx)
	if err := ctx.Err(); err != nil { // do not send an HGETALL nobody waits for
		sc.settle(en)
		return nil, err
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
	raw, err := sc.fetch(ctx, namespace, serviceName)
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
