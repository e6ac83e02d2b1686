package otelexec

import (
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// cache is the memory of the state cache and the link cache: a value of
// type V, never modified once published, per namespace and name (a service
// or a uid), bounded in bytes (docs/design.md, "The state cache").
//
// The entries are in cacheShards maps, each under its own RWMutex, which a
// hit takes to read and a miss to insert, never across a Redis call or a
// scan. Every kept entry is also on one CLOCK ring under mu, which only
// misses, invalidations and flushes take: a hit only sets its entry's
// reference bit. When the bytes exceed the budget, the hand sweeps from the
// oldest entry, clearing set bits and dropping the first entry without one
// (or whose value is stale): O(1) amortized, never more than twice round.
//
// Admission (with a door): once the cache is full, a name it does not hold
// is kept only if it was turned away recently (its hash is in door, a
// direct-mapped table), or if the entry at the hand is stale or empty.
// Otherwise it is read and not kept, so that a loop over more names than
// the cache holds still hits the ones it holds.
type cache[V, X any] struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard[V, X]
	stale  func(v *V, now int64) bool // dropped first, admitted over; nil: never
	evict  func()                     // counts an eviction; nil: not counted

	// mu guards the ring, the byte count, door and the entries' ring
	// fields, and orders every change of an entry's value.
	mu       sync.Mutex
	hand     *cacheEntry[V, X] // the oldest entry, where a sweep starts; nil when empty
	n        int               // entries on the ring
	used     int64             // bytes accounted by the entries on the ring
	maxBytes int64
	budget   int64    // what the entries may take: maxBytes less door's
	door     []uint64 // hashes of the last names turned away; nil: admit all
	closed   bool
}

const cacheShards = 64

type cacheShardData[V, X any] struct {
	mu      sync.RWMutex
	entries map[nameKey]*cacheEntry[V, X]
	peak    int // the most entries since the map was made
}

// cacheShard is padded to its own cache lines, so that hits on two shards
// do not contend for one.
type cacheShard[V, X any] struct {
	cacheShardData[V, X]
	_ [128 - unsafe.Sizeof(cacheShardData[struct{}, struct{}]{})%128]byte
}

// nameKey is a namespace and a service name or uid.
type nameKey struct{ namespace, name string }

// cacheEntry is one name's value, and what its cache keeps beside (x).
type cacheEntry[V, X any] struct {
	val atomic.Pointer[V] // nil when none is fresh enough to keep
	ref atomic.Bool       // read since the hand last passed
	// generation counts the invalidations: a read publishes only if none
	// came since it began, so it cannot put back a value older than a write.
	generation atomic.Uint64
	x          X

	key   nameKey // its own copies of the names
	shard *cacheShard[V, X]
	base  int64 // what the entry itself holds: the struct, the names, its map slot

	// Guarded by cache.mu.
	prev, next *cacheEntry[V, X]
	bytes      int64 // base plus the value's size, while linked
	linked     bool  // on the ring (and accounted); never again once dropped
}

// init readies the cache for maxBytes, with an admission table (door) if
// admit.
func (c *cache[V, X]) init(maxBytes int64, admit bool) {
	c.seed, c.maxBytes = maphash.MakeSeed(), maxBytes
	if admit {
		c.door = make([]uint64, doorSlots(maxBytes))
	}
	// A bound below door's bytes leaves the entries nothing: each name is
	// then read as without a cache.
	c.budget = max(maxBytes-doorBytes(len(c.door)), 0)
	for i := range c.shards {
		c.shards[i].entries = make(map[nameKey]*cacheEntry[V, X])
	}
}

// mapSlotBytes is an entry's map slot (key and pointer) at the about
// half-full tables a Go map keeps.
const mapSlotBytes = 2 * (int64(unsafe.Sizeof(nameKey{})) + 8 + 1)

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

// hash picks a name's shard and is what door remembers; never 0, door's
// empty slot.
func (c *cache[V, X]) hash(namespace, name string) uint64 {
	return (maphash.String(c.seed, name) ^ maphash.String(c.seed, namespace)*0x9e3779b97f4a7c15) | 1
}

// shardOf is the shard of a name.
func (c *cache[V, X]) shardOf(namespace, name string) *cacheShard[V, X] {
	return &c.shards[c.hash(namespace, name)%cacheShards]
}

// lookup returns a name's entry, or nil, and marks it read.
func (c *cache[V, X]) lookup(sh *cacheShard[V, X], namespace, name string) *cacheEntry[V, X] {
	sh.mu.RLock()
	en := sh.entries[nameKey{namespace, name}]
	sh.mu.RUnlock()
	if en != nil && !en.ref.Load() {
		en.ref.Store(true)
	}
	return en
}

// insert returns the name's entry, making one if there is none: in its
// shard's map, where callers that miss meanwhile find it, and, if the cache
// admits it, on the ring behind the hand; nil, and out of the map again,
// when the cache does not admit it.
func (c *cache[V, X]) insert(h uint64, namespace, name string) *cacheEntry[V, X] {
	sh := &c.shards[h%cacheShards]
	sh.mu.Lock()
	if en := sh.entries[nameKey{namespace, name}]; en != nil {
		sh.mu.Unlock()
		return en
	}
	// Own copies: the caller's names may share memory with larger buffers.
	ns, nsBytes := cloneCounted(namespace)
	n, nBytes := cloneCounted(name)
	en := &cacheEntry[V, X]{key: nameKey{ns, n}, shard: sh}
	en.base = allocSize(int(unsafe.Sizeof(*en))) + nsBytes + nBytes + mapSlotBytes
	sh.entries[en.key] = en
	sh.peak = max(sh.peak, len(sh.entries))
	sh.mu.Unlock()

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || !c.admitLocked(h, en.base) {
		sh.mu.Lock()
		sh.unmap(en)
		sh.mu.Unlock()
		return nil
	}
	if c.hand == nil {
		en.prev, en.next = en, en
		c.hand = en
	} else { // behind the hand: the last the sweep reaches
		en.prev, en.next = c.hand.prev, c.hand
		en.prev.next, c.hand.prev = en, en
	}
	en.linked, en.bytes = true, en.base
	c.n++
	c.used += en.base
	c.evictLocked(en)
	return en
}

// admitLocked says whether a new entry may be kept: without a door, while
// it fits at the entries' average size, over a worthless entry at the
// hand, or when its hash is in door. Otherwise its hash takes its slot,
// and the hand moves past an entry read since it last passed, to come to
// rest at one that goes stale unless it is read, and then admits.
func (c *cache[V, X]) admitLocked(h uint64, bytes int64) bool {
	if c.door == nil || c.hand == nil || c.used+max(bytes, c.used/int64(c.n)) <= c.budget || c.worthless(c.hand, monotonic(), true) {
		return true
	}
	slot := &c.door[h&uint64(len(c.door)-1)]
	if *slot == h {
		*slot = 0
		return true
	}
	*slot = h
	if c.hand.ref.Load() {
		c.hand = c.hand.next
	}
	return false
}

// worthless reports whether an entry's value is stale at now; with
// orNone, also whether it has none.
func (c *cache[V, X]) worthless(en *cacheEntry[V, X], now int64, orNone bool) bool {
	v := en.val.Load()
	if v == nil {
		return orNone
	}
	return c.stale != nil && c.stale(v, now)
}

// publish makes the value build makes from the entry's current one (under
// mu) the entry's, and evicts what no longer fits; nothing for an entry
// dropped or invalidated since generation, or a value over the budget.
func (c *cache[V, X]) publish(en *cacheEntry[V, X], generation uint64, build func(old *V) (v *V, size int64)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !en.linked || en.generation.Load() != generation {
		return
	}
	v, size := build(en.val.Load())
	if en.base+size <= c.budget {
		en.val.Store(v)
		size += en.base
	} else {
		en.val.Store(nil)
		size = en.base
	}
	c.used += size - en.bytes
	en.bytes = size
	c.evictLocked(en)
}

// settle takes an entry the cache did not keep out of its shard's map once
// its read is done, so that the map holds only what the ring accounts.
func (c *cache[V, X]) settle(en *cacheEntry[V, X]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if en.linked {
		return
	}
	en.shard.mu.Lock()
	en.shard.unmap(en)
	en.shard.mu.Unlock()
}

// unmap takes en out of the shard's map unless another entry took its
// place; under sh.mu.
func (sh *cacheShard[V, X]) unmap(en *cacheEntry[V, X]) {
	if sh.entries[en.key] == en {
		delete(sh.entries, en.key)
	}
}

// invalidate drops a name's value and ends the reads out for it (their
// generation); it returns the entry, or nil, and whether it held a value.
func (c *cache[V, X]) invalidate(namespace, name string) (*cacheEntry[V, X], bool) {
	sh := c.shardOf(namespace, name)
	sh.mu.RLock()
	en := sh.entries[nameKey{namespace, name}]
	sh.mu.RUnlock()
	if en == nil {
		return nil, false
	}
	c.mu.Lock()
	en.generation.Add(1)
	had := en.val.Swap(nil) != nil
	if en.linked {
		c.used -= en.bytes - en.base
		en.bytes = en.base
	}
	c.mu.Unlock()
	return en, had
}

// evictLocked drops entries in CLOCK order until the bytes fit the budget;
// keep, the entry being inserted or published, only if it alone does not.
func (c *cache[V, X]) evictLocked(keep *cacheEntry[V, X]) {
	now := monotonic()
	for steps := 0; c.used > c.budget; steps++ {
		v := c.hand
		switch {
		case v == keep && c.n > 1:
			c.hand = v.next
		case v != keep && v.ref.Load() && !c.worthless(v, now, false) && steps <= 2*c.n:
			v.ref.Store(false) // a second chance; passed again without a read, it goes
			c.hand = v.next
		default:
			c.removeLocked(v)
			if c.evict != nil {
				c.evict()
			}
		}
	}
}

// removeLocked drops an entry from the ring, the byte count and its map.
func (c *cache[V, X]) removeLocked(v *cacheEntry[V, X]) {
	if v.next == v {
		c.hand = nil
	} else {
		v.prev.next, v.next.prev = v.next, v.prev
		if c.hand == v {
			c.hand = v.next
		}
	}
	v.prev, v.next = nil, nil
	v.linked = false
	v.val.Store(nil)
	c.n--
	c.used -= v.bytes
	v.bytes = 0
	sh := v.shard
	sh.mu.Lock()
	sh.unmap(v)
	// A Go map never shrinks: copy it at half its peak, so that the slots
	// accounted stay what it holds (amortized O(1)).
	if sh.peak >= 256 && len(sh.entries) <= sh.peak/2 {
		m := make(map[nameKey]*cacheEntry[V, X], len(sh.entries))
		for k, en := range sh.entries {
			m[k] = en
		}
		sh.entries, sh.peak = m, len(m)
	}
	sh.mu.Unlock()
}

// clear drops every entry and says how many held a value. With close the
// cache keeps nothing from then on, and its maps' memory is released.
func (c *cache[V, X]) clear(close bool) (dropped int) {
	c.mu.Lock()
	c.closed = c.closed || close
	for c.hand != nil {
		if c.hand.val.Load() != nil {
			dropped++
		}
		c.removeLocked(c.hand)
	}
	c.mu.Unlock()
	for i := range c.shards {
		if sh := &c.shards[i]; close {
			sh.mu.Lock()
			sh.entries, sh.peak = make(map[nameKey]*cacheEntry[V, X]), 0
			sh.mu.Unlock()
		}
	}
	return dropped
}
