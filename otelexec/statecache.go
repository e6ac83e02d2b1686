package otelexec

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
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

// The cache is a map of services split in stateShards shards, each under
// its own RWMutex, so a hit takes one shard's read lock for a map lookup,
// and an insert or a delete its write lock for a map update, never across
// a Redis call or a scan. Every cached entry is also on one CLOCK ring
// under stateCache.mu, which only misses, SetServiceState and Close take: a
// hit only sets its entry's reference bit (an atomic store, skipped when
// the bit is set already).
//
// Eviction: when an insert or a refresh takes the accounted bytes over the
// bound, the hand sweeps from the oldest entry: an entry with its bit set
// has it cleared and is passed over, the first without (or whose states
// have expired) is dropped. Each step either clears a bit a hit set or
// drops an entry, so a miss costs O(1) amortized; a sweep never passes more
// than twice round the ring, whatever hits set meanwhile. New entries start
// without the bit, so services read once go before the ones in use.
//
// Admission: once the cache is full, a service it does not hold is kept
// only if it missed before, recently (its hash is in door, a direct-mapped
// table of the last misses turned away), or if the entry at the hand has
// expired. Otherwise it is read (one HGETALL, shared as usual) and not
// kept. A service read in turn with more others than the cache holds (a
// loop over every service) would otherwise evict, on every miss, an entry
// that is read again before the service itself is: the cache would miss on
// every read and pay for its own bookkeeping. With admission the services
// it holds stay and are hit, about bound/working set of the reads.
const stateShards = 64

// stateCache holds pod states per service, parsed (stateSnapshot).
type stateCache struct {
	ttl      time.Duration
	maxBytes int64
	fetch    fetchFunc // the HGETALL
	seed     maphash.Seed
	shards   [stateShards]stateShard

	// mu guards the ring, the byte count, door and the entries' ring
	// fields, and orders every change of an entry's snapshot.
	mu     sync.Mutex
	hand   *stateEntry // the oldest entry, where a sweep starts; nil when empty
	n      int         // entries on the ring
	used   int64       // bytes accounted by the entries on the ring
	budget int64       // what the entries may take: maxBytes less door's
	door   []uint64    // hashes of the last services turned away, by hash
	closed bool

	hits, misses tally
}

type stateShardData struct {
	mu      sync.RWMutex
	entries map[serviceKey]*stateEntry
	peak    int // the most entries since the map was made
}

// stateShard is padded to its own cache lines, so that hits on two shards
// do not contend for one.
type stateShard struct {
	stateShardData
	_ [128 - unsafe.Sizeof(stateShardData{})%128]byte
}

// stateEntry is one service's cached states and its HGETALL in flight.
type stateEntry struct {
	snapshot atomic.Pointer[stateSnapshot] // nil when none is fresh enough to keep
	ref      atomic.Bool                   // read since the hand last passed
	// generation counts the invalidations. A refresh publishes its result
	// only if none happened since it started, so a read that began before
	// SetServiceState cannot put the old states back after it.
	generation atomic.Uint64
	// sent is when the HGETALL in flight was sent (monotonic), 0 when none:
	// a caller does not join one sent more than the TTL before it came.
	sent   atomic.Int64
	flight flight.Group[*stateSnapshot]

	key   serviceKey // its own copies of the names
	shard *stateShard
	base  int64 // what the entry itself holds: the struct, the names, its map slot

	// Guarded by stateCache.mu.
	prev, next *stateEntry
	bytes      int64 // base plus the snapshot's size, while linked
	linked     bool  // on the ring (and accounted); never again once dropped
}

// stateSnapshot is a service's pod states as read by one HGETALL and parsed
// once. It is shared by every reader and never modified.
type stateSnapshot struct {
	parsedStates
	asOf int64 // when the HGETALL was sent (monotonic); the states are at least this recent
	size int64 // heap bytes: the struct and parsedStates.bytes
}

// fetchFunc reads a service's pod state hash from Redis.
type fetchFunc func(ctx context.Context, namespace, serviceName string) (map[string]string, error)

// The sizes accounted per entry beyond its names and its states: the
// allocator's size classes of the two structs, and the map slot (key and
// pointer, 40 bytes, at the about half-full tables a Go map keeps).
var (
	entryBytes    = allocSize(int(unsafe.Sizeof(stateEntry{})))
	snapshotBytes = allocSize(int(unsafe.Sizeof(stateSnapshot{})))
)

const mapSlotBytes = 2 * (int64(unsafe.Sizeof(serviceKey{})) + 8 + 1)

// allocSize is the size the allocator gives an object of n bytes without a
// type header: append rounds a slice's capacity up to exactly that.
func allocSize(n int) int64 { return int64(cap(slices.Grow([]byte(nil), n))) }

// doorSlots is the size of the admission table for a bound: a 64th of it,
// a power of two from 16 to 4096 slots (128 B to 32 KiB).
func doorSlots(maxBytes int64) int {
	n := 16
	for n < 4096 && int64(n*2)*8*64 <= maxBytes {
		n *= 2
	}
	return n
}

// doorBytes is what an admission table of n slots holds.
func doorBytes(n int) int64 { return allocSize(n * 8) }

// cloneCounted copies s into an allocation of its own and says how large
// that allocation is.
func cloneCounted(s string) (string, int64) {
	if s == "" {
		return "", 0
	}
	b := append(slices.Grow([]byte(nil), len(s)), s...)
	return unsafe.String(unsafe.SliceData(b), len(b)), int64(cap(b))
}

// clockStart makes monotonic readings small integers that fit atomics.
var clockStart = time.Now()

// monotonic is the time since clockStart on the monotonic clock, never 0.
func monotonic() int64 { return int64(time.Since(clockStart)) + 1 }

// newStateCache returns nil when c does not ask for a state cache. It reads
// Redis with fetch. Its hits and misses are counted here and, with metrics,
// on ms's counters.
func newStateCache(c *config, ms *meters, fetch fetchFunc) *stateCache {
	if c.stateCacheTTL <= 0 {
		return nil
	}
	sc := &stateCache{ttl: c.stateCacheTTL, maxBytes: c.stateCacheMaxBytes, fetch: fetch, seed: maphash.MakeSeed()}
	sc.door = make([]uint64, doorSlots(sc.maxBytes))
	// A bound below the admission table's bytes leaves the entries
	// nothing: each service is then read as without a cache.
	sc.budget = max(sc.maxBytes-doorBytes(len(sc.door)), 0)
	for i := range sc.shards {
		sc.shards[i].entries = make(map[serviceKey]*stateEntry)
	}
	if ms != nil {
		sc.hits.c, sc.misses.c = ms.stateHits, ms.stateMisses
		ms.stateHits.Add(context.Background(), 0) // reported from the start, as the script cache's
		ms.stateMisses.Add(context.Background(), 0)
	}
	return sc
}

// podStatesCopy reads a service's pod states for GetServiceState, through
// the cache when there is one, into a map of the caller's own.
func (e *Executor) podStatesCopy(ctx context.Context, namespace, serviceName string) (podStateHash, error) {
	if e.states == nil {
		return e.podStates(ctx, namespace, serviceName)
	}
	s, err := e.states.get(ctx, namespace, serviceName)
	switch {
	case err != nil:
		return podStateHash{}, err
	case s == nil: // turned away: read as without a cache
		return e.podStates(ctx, namespace, serviceName)
	}
	return podStateHash{states: s.states(), skipped: s.skipped}, nil
}

// hash is a service's hash: it picks the shard, and is what the admission
// table remembers. Never 0, the table's empty slot.
func (sc *stateCache) hash(namespace, serviceName string) uint64 {
	return (maphash.String(sc.seed, serviceName) ^ maphash.String(sc.seed, namespace)*0x9e3779b97f4a7c15) | 1
}

// shardOf is the shard of a service.
func (sc *stateCache) shardOf(namespace, serviceName string) *stateShard {
	return &sc.shards[sc.hash(namespace, serviceName)%stateShards]
}

// get returns the service's states from a fresh entry, or waits for one
// HGETALL shared by every caller that misses meanwhile. The snapshot is
// shared: read it, never modify it. It returns nil and no error when the
// cache turned the service away (full, and the service not read lately):
// the caller then reads Redis itself, as without a cache, since states the
// cache will not keep are not worth parsing for it.
func (sc *stateCache) get(ctx context.Context, namespace, serviceName string) (*stateSnapshot, error) {
	h := sc.hash(namespace, serviceName)
	sh := &sc.shards[h%stateShards]
	sh.mu.RLock()
	en := sh.entries[serviceKey{namespace, serviceName}]
	sh.mu.RUnlock()
	now := monotonic()
	if en == nil {
		if err := ctx.Err(); err != nil { // make no entry for a read that cannot wait
			sc.misses.add(ctx)
			return nil, err
		}
		var kept bool
		if en, kept = sc.insert(sh, h, namespace, serviceName); !kept {
			sc.misses.add(ctx)
			sc.settle(en)
			return nil, nil
		}
	} else if !en.ref.Load() {
		en.ref.Store(true)
	}
	if s := en.snapshot.Load(); s != nil && now-s.asOf < int64(sc.ttl) {
		sc.hits.add(ctx)
		return s, nil
	}
	sc.misses.add(ctx)
	if err := ctx.Err(); err != nil { // do not send an HGETALL nobody waits for
		sc.settle(en)
		return nil, err
	}
	if sent := en.sent.Load(); sent != 0 && now-sent >= int64(sc.ttl) {
		// The HGETALL in flight was sent too long before this caller came:
		// its states could be older than the TTL when they reach it.
		en.flight.Forget()
	}
	s, _, err := en.flight.Do(ctx, func(ctx context.Context) (*stateSnapshot, error) {
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
	en.sent.Store(sent)
	defer en.sent.CompareAndSwap(sent, 0)
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
	sc.publish(en, s, generation)
	return s, nil
}

// publish makes s the entry's states, accounts its bytes and evicts what no
// longer fits. It keeps nothing for an entry that was dropped or
// invalidated meanwhile, and no states that alone exceed the bound.
func (sc *stateCache) publish(en *stateEntry, s *stateSnapshot, generation uint64) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if !en.linked || en.generation.Load() != generation {
		return
	}
	size := en.base
	if en.base+s.size <= sc.budget {
		en.snapshot.Store(s)
		size += s.size
	} else {
		en.snapshot.Store(nil)
	}
	sc.used += size - en.bytes
	en.bytes = size
	sc.evictLocked(en)
}

// settle takes an entry the cache did not keep (turned away, or dropped
// while its HGETALL was out) out of its shard's map once its read is done,
// so the map holds only what the ring accounts, and the next read of the
// service asks for admission again.
func (sc *stateCache) settle(en *stateEntry) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if en.linked {
		return
	}
	sh := en.shard
	sh.mu.Lock()
	if sh.entries[en.key] == en {
		delete(sh.entries, en.key)
	}
	sh.mu.Unlock()
}

// invalidate drops a service's cached states and detaches its HGETALL in
// flight, so the next read sends a new HGETALL that sees the caller's write.
func (sc *stateCache) invalidate(namespace, serviceName string) {
	if sc == nil {
		return
	}
	sh := sc.shardOf(namespace, serviceName)
	sh.mu.RLock()
	en := sh.entries[serviceKey{namespace, serviceName}]
	sh.mu.RUnlock()
	if en == nil {
		return
	}
	sc.mu.Lock()
	en.generation.Add(1)
	en.snapshot.Store(nil)
	if en.linked {
		sc.used -= en.bytes - en.base
		en.bytes = en.base
	}
	sc.mu.Unlock()
	en.flight.Forget()
}

// insert returns the service's entry, making one if there is none: in its
// shard's map, where callers that miss meanwhile find its HGETALL, and, if
// the cache admits it, on the ring, cold, behind the hand. An entry not
// admitted stays out of the ring and the byte count and leaves the map when
// its read is done (settle). kept is false for an entry made and not
// admitted.
func (sc *stateCache) insert(sh *stateShard, h uint64, namespace, serviceName string) (en *stateEntry, kept bool) {
	sh.mu.Lock()
	if en := sh.entries[serviceKey{namespace, serviceName}]; en != nil {
		sh.mu.Unlock()
		return en, true
	}
	// Own copies of the names: the caller's may share memory with larger
	// buffers.
	ns, nsBytes := cloneCounted(namespace)
	svc, svcBytes := cloneCounted(serviceName)
	en = &stateEntry{key: serviceKey{ns, svc}, shard: sh, base: entryBytes + nsBytes + svcBytes + mapSlotBytes}
	sh.entries[en.key] = en
	sh.peak = max(sh.peak, len(sh.entries))
	sh.mu.Unlock()

	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed || !sc.admitLocked(h, en.base) {
		return en, false
	}
	if sc.hand == nil {
		en.prev, en.next = en, en
		sc.hand = en
	} else { // behind the hand: the last the sweep reaches
		en.prev, en.next = sc.hand.prev, sc.hand
		en.prev.next, sc.hand.prev = en, en
	}
	en.linked, en.bytes = true, en.base
	sc.n++
	sc.used += en.base
	sc.evictLocked(en)
	return en, true
}

// admitLocked says whether a new entry of the given bytes and hash may be
// kept: always while it fits at the entries' average size (its states are
// not read yet); once the cache is full, when the entry at the
// hand has expired or has no states (it is worth nothing), or when the
// service was turned away recently (the slot of its hash still holds it).
// Otherwise its hash takes the slot, and the hand moves past the entry it
// points at if that one was read since the hand last passed (leaving its
// bit, which only a sweep clears): so the hand comes to rest at an entry
// not read, the next a sweep would drop, which expires unless it is read,
// and then admits.
func (sc *stateCache) admitLocked(h uint64, bytes int64) bool {
	if sc.hand == nil || sc.used+max(bytes, sc.used/int64(sc.n)) <= sc.budget || sc.expired(sc.hand, monotonic(), true) {
		return true
	}
	slot := &sc.door[h&uint64(len(sc.door)-1)]
	if *slot == h {
		*slot = 0
		return true
	}
	*slot = h
	if sc.hand.ref.Load() {
		sc.hand = sc.hand.next
	}
	return false
}

// expired reports whether an entry's states are older than the TTL at now;
// with orNone, also whether it has none.
func (sc *stateCache) expired(en *stateEntry, now int64, orNone bool) bool {
	s := en.snapshot.Load()
	if s == nil {
		return orNone
	}
	return now-s.asOf >= int64(sc.ttl)
}

// evictLocked drops entries in CLOCK order until the accounted bytes fit
// the budget. keep, the entry being inserted or refreshed, goes last: only
// when it alone does not fit.
func (sc *stateCache) evictLocked(keep *stateEntry) {
	now := monotonic()
	for steps := 0; sc.used > sc.budget; steps++ {
		v := sc.hand
		switch {
		case v == keep && sc.n > 1:
			sc.hand = v.next
		case v != keep && v.ref.Load() && !sc.expired(v, now, false) && steps <= 2*sc.n:
			v.ref.Store(false) // a second chance; passed again without a read, it goes
			sc.hand = v.next
		default:
			sc.removeLocked(v)
		}
	}
}

// removeLocked drops an entry from the ring, the byte count and its shard's
// map. Callers holding it still get the states they read; a refresh of it
// still serves its waiters, and is then forgotten.
func (sc *stateCache) removeLocked(v *stateEntry) {
	if v.next == v {
		sc.hand = nil
	} else {
		v.prev.next, v.next.prev = v.next, v.prev
		if sc.hand == v {
			sc.hand = v.next
		}
	}
	v.prev, v.next = nil, nil
	v.linked = false
	v.snapshot.Store(nil)
	sc.n--
	sc.used -= v.bytes
	v.bytes = 0
	sh := v.shard
	sh.mu.Lock()
	if sh.entries[v.key] == v {
		delete(sh.entries, v.key)
	}
	// A Go map never shrinks: once it holds half its peak, copy it, so the
	// slots accounted per entry stay what the map holds (amortized O(1):
	// half the peak was deleted since the last copy).
	if sh.peak >= 256 && len(sh.entries) <= sh.peak/2 {
		m := make(map[serviceKey]*stateEntry, len(sh.entries))
		for k, en := range sh.entries {
			m[k] = en
		}
		sh.entries, sh.peak = m, len(m)
	}
	sh.mu.Unlock()
}

// clear drops every entry, at Close.
func (sc *stateCache) clear() {
	if sc == nil {
		return
	}
	sc.mu.Lock()
	sc.closed = true
	for sc.hand != nil {
		sc.removeLocked(sc.hand)
	}
	sc.mu.Unlock()
	for i := range sc.shards {
		sh := &sc.shards[i]
		sh.mu.Lock()
		sh.entries, sh.peak = make(map[serviceKey]*stateEntry), 0
		sh.mu.Unlock()
	}
}

// len is the number of services cached, for tests.
func (sc *stateCache) len() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.n
}

// size is the bytes the cache accounts, its entries' and its admission
// table's, for tests and benchmarks.
func (sc *stateCache) size() int64 {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.used + doorBytes(len(sc.door))
}
