package otelexec

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MaxCachedServices bounds the services whose pod states WithStateCache
// keeps. When a new service would exceed it, expired entries are dropped
// first, then an arbitrary one, so memory stays bounded whatever the
// callers ask for.
const MaxCachedServices = 1024

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
// miss at once, one HGETALL serves them all. SetServiceState on the same
// executor drops the service's entry, so the executor reads its own writes;
// writes by other processes (pods reporting their heartbeats) are seen
// within ttl. Failed reads are not cached. At most MaxCachedServices
// services are kept.
//
// The cache's hits and misses are exported as
// stateful_executor_state_cache_{hits,misses}_total and as
// stateful_executor_cache_hit_ratio{cache_type="state"}; a miss is any read
// that waited for Redis, its own HGETALL or one shared with other callers.
func WithStateCache(ttl time.Duration) Option {
	return optionFunc(func(c *config) { c.stateCacheTTL = ttl })
}

// stateCache holds pod states per service. Entries are found under a
// read lock; each entry publishes its snapshot through an atomic pointer, so
// a hit takes no lock of its own.
type stateCache struct {
	ttl time.Duration

	mu      sync.RWMutex
	entries map[serviceKey]*stateEntry

	hits, misses *atomic.Uint64
}

// stateEntry is one service's cached states and its refresh in flight.
type stateEntry struct {
	snapshot atomic.Pointer[stateSnapshot]

	mu sync.Mutex
	// generation counts the invalidations. A refresh publishes its result
	// only if none happened since it started, so a read that began before
	// SetServiceState cannot put the old states back after it.
	generation uint64
	flight     *stateFlight
}

// stateSnapshot is a service's pod states as read by one HGETALL. The map is
// shared by every reader and never modified.
type stateSnapshot struct {
	hash podStateHash
	asOf time.Time // when the HGETALL was sent; the states are at least this recent
}

// stateFlight is one HGETALL that the callers missing at the same time wait
// for.
type stateFlight struct {
	done chan struct{}
	hash podStateHash
	err  error
}

// newStateCache returns nil when c does not ask for a state cache. Its
// hits and misses are counted in ms, shared with every executor on the
// MeterProvider, or only here without metrics.
func newStateCache(c *config, ms *meterState) *stateCache {
	if c.stateCacheTTL <= 0 {
		return nil
	}
	sc := &stateCache{ttl: c.stateCacheTTL, entries: make(map[serviceKey]*stateEntry)}
	sc.hits, sc.misses = new(atomic.Uint64), new(atomic.Uint64)
	if ms != nil {
		ms.stateCache.Store(true)
		sc.hits, sc.misses = &ms.stateHits, &ms.stateMisses
	}
	return sc
}

// clear drops every entry, at Close.
func (sc *stateCache) clear() {
	if sc == nil {
		return
	}
	sc.mu.Lock()
	clear(sc.entries)
	sc.mu.Unlock()
}

// sharedPodStates reads a service's pod states through the cache when there
// is one. The map may be shared with other callers: read it, never modify it.
func (e *Executor) sharedPodStates(ctx context.Context, namespace, serviceName string) (podStateHash, error) {
	if e.states == nil {
		return e.podStates(ctx, namespace, serviceName)
	}
	return e.states.get(ctx, namespace, serviceName, e.podStates)
}

// podStatesCopy is sharedPodStates for callers that hand the map out.
func (e *Executor) podStatesCopy(ctx context.Context, namespace, serviceName string) (podStateHash, error) {
	if e.states == nil {
		return e.podStates(ctx, namespace, serviceName)
	}
	h, err := e.states.get(ctx, namespace, serviceName, e.podStates)
	if err != nil {
		return podStateHash{}, err
	}
	h.states = maps.Clone(h.states)
	return h, nil
}

// fetchFunc reads a service's pod states from Redis.
type fetchFunc func(ctx context.Context, namespace, serviceName string) (podStateHash, error)

// get returns the service's states from a fresh entry, or waits for one
// HGETALL shared by every caller that misses meanwhile.
func (sc *stateCache) get(ctx context.Context, namespace, serviceName string, fetch fetchFunc) (podStateHash, error) {
	en := sc.entry(namespace, serviceName)
	for {
		if states, ok := sc.fresh(en); ok {
			sc.hits.Add(1)
			return states, nil
		}
		en.mu.Lock()
		if states, ok := sc.fresh(en); ok { // a refresh finished while we waited for the lock
			en.mu.Unlock()
			sc.hits.Add(1)
			return states, nil
		}
		f, leader := en.flight, false
		if f == nil {
			f, leader = &stateFlight{done: make(chan struct{})}, true
			en.flight = f
		}
		generation := en.generation
		en.mu.Unlock()

		if leader {
			sc.misses.Add(1)
			return sc.refresh(ctx, en, f, generation, namespace, serviceName, fetch)
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			sc.misses.Add(1)
			return podStateHash{}, ctx.Err()
		}
		// The leader's own context ended its read, not Redis: try again,
		// leading a new refresh if nobody else has.
		if isContextError(f.err) && ctx.Err() == nil {
			continue
		}
		sc.misses.Add(1)
		return f.hash, f.err
	}
}

// fresh returns the entry's states if they are younger than the TTL.
func (sc *stateCache) fresh(en *stateEntry) (podStateHash, bool) {
	s := en.snapshot.Load()
	if s == nil || time.Since(s.asOf) >= sc.ttl {
		return podStateHash{}, false
	}
	return s.hash, true
}

// refresh runs the HGETALL of flight f and publishes its result unless the
// entry was invalidated since generation.
func (sc *stateCache) refresh(ctx context.Context, en *stateEntry, f *stateFlight, generation uint64, namespace, serviceName string, fetch fetchFunc) (podStateHash, error) {
	asOf := time.Now()
	f.hash, f.err = fetch(ctx, namespace, serviceName)
	en.mu.Lock()
	if en.flight == f {
		en.flight = nil
	}
	if f.err == nil && en.generation == generation {
		en.snapshot.Store(&stateSnapshot{hash: f.hash, asOf: asOf})
	}
	en.mu.Unlock()
	close(f.done)
	return f.hash, f.err
}

// invalidate drops a service's cached states and detaches its refresh in
// flight, so the next read sends a new HGETALL that sees the caller's write.
func (sc *stateCache) invalidate(namespace, serviceName string) {
	if sc == nil {
		return
	}
	sc.mu.RLock()
	en := sc.entries[serviceKey{namespace, serviceName}]
	sc.mu.RUnlock()
	if en == nil {
		return
	}
	en.mu.Lock()
	en.generation++
	en.flight = nil
	en.snapshot.Store(nil)
	en.mu.Unlock()
}

// entry returns the service's entry, making one if needed.
func (sc *stateCache) entry(namespace, serviceName string) *stateEntry {
	k := serviceKey{namespace, serviceName}
	sc.mu.RLock()
	en := sc.entries[k]
	sc.mu.RUnlock()
	if en != nil {
		return en
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if en := sc.entries[k]; en != nil {
		return en
	}
	if len(sc.entries) >= MaxCachedServices {
		sc.evictLocked()
	}
	en = &stateEntry{}
	// Clone: the caller's strings may share memory with larger buffers.
	sc.entries[serviceKey{strings.Clone(namespace), strings.Clone(serviceName)}] = en
	return en
}

// evictLocked makes room for one entry: it drops every expired entry, or an
// arbitrary one when none has expired. A refresh still running for a
// dropped entry completes for its waiters and is then forgotten.
func (sc *stateCache) evictLocked() {
	for k, en := range sc.entries {
		if _, ok := sc.fresh(en); !ok {
			delete(sc.entries, k)
		}
	}
	if len(sc.entries) < MaxCachedServices {
		return
	}
	for k := range sc.entries {
		delete(sc.entries, k)
		return
	}
}

// len is the number of services cached, for tests.
func (sc *stateCache) len() int {
	sc.mu.RLock()
	defer sc.mu.RUnlock()
	return len(sc.entries)
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
