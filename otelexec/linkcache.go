package otelexec

import (
	"context"
	"strings"
	"unsafe"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"

	"github.com/statefulroute/sfotel/internal/contract"
)

// linkCache holds users' links on the cache core (cache.go), without
// admission: for each (namespace, uid), the services looked up, each with
// its pod (-1 for no link) and, for a temporary link, when its TTL ends.
// An invalidation of the user's link hash or of any of its link keys drops
// the user's links.
type linkCache struct {
	cache[userLinks, struct{}]
	tracker *linkTracker

	// The cache's counts, added to the MeterProvider's counters with metrics.
	hits, misses, evictions tally
	invalidations           [numLinkReasons]tally
}

// userLinks are one user's cached links, never modified once published.
type userLinks []cachedLink

type cachedLink struct {
	service string
	pod     int
	expires int64 // monotonic; 0: none
}

var (
	userLinksBytes = allocSize(int(unsafe.Sizeof(userLinks{})))
	cachedLinkSize = int(unsafe.Sizeof(cachedLink{}))
)

// Reasons an entry was invalidated, the values of the reason attribute.
const (
	linkByKey   = iota // a push named one of its keys
	linkByFlush        // the server was flushed (FLUSHALL, FLUSHDB)
	linkByLoss         // the tracking connection was lost or stalled
	numLinkReasons
)

var linkReasonNames = [numLinkReasons]string{"key", "flush", "lost"}

func newLinkCache(c *config, rdb redis.UniversalClient, ms *meters) (*linkCache, error) {
	if c.linkCacheStale <= 0 {
		return nil, nil
	}
	lc := &linkCache{}
	lc.init(c.linkCacheMaxBytes, false)
	lc.evict = func() { lc.evictions.add(context.Background()) }
	if ms != nil {
		lc.hits.on(ms.linkHits)
		lc.misses.on(ms.linkMisses)
		lc.evictions.c = ms.linkEvictions
		for r := range lc.invalidations {
			lc.invalidations[r].c, lc.invalidations[r].opts = ms.linkInvalidations, addSet(attribute.String(contract.AttrReason, linkReasonNames[r]))
		}
	}
	t, err := newLinkTracker(rdb, lc, c.linkCacheStale, c.logger)
	if err != nil {
		return nil, &ArgumentError{Field: "WithLinkCache", Reason: err.Error()}
	}
	lc.tracker = t
	return lc, nil
}

// get returns a user's cached link to a service, if the cache may serve
// it, and counts the hit or miss.
func (lc *linkCache) get(namespace, uid, serviceName string) (pod int, ok bool) {
	pod, ok = lc.peek(namespace, uid, serviceName, monotonic())
	if ok {
		lc.hits.add(context.Background())
	} else {
		lc.misses.add(context.Background())
	}
	return pod, ok
}

// peek is get without counting.
func (lc *linkCache) peek(namespace, uid, serviceName string, now int64) (pod int, ok bool) {
	if !lc.tracker.fresh(now) {
		return 0, false
	}
	if en := lc.lookup(lc.shardOf(namespace, uid), namespace, uid); en != nil {
		if links := en.val.Load(); links != nil {
			for _, l := range *links {
				if l.service == serviceName && (l.expires == 0 || now < l.expires) {
					return l.pod, true
				}
			}
		}
	}
	return 0, false
}

// batch answers BatchGetLinkedPod from the cache when it holds every uid's
// link, and returns nil when it does not: the batch is then read from
// Redis whole, so each pod's uids stay in the order given.
func (lc *linkCache) batch(namespace string, uids []string, serviceName string) map[int][]string {
	now, pods := monotonic(), make(map[int][]string)
	for _, uid := range uids {
		pod, ok := lc.peek(namespace, uid, serviceName, now)
		if !ok {
			lc.misses.addN(context.Background(), uint64(len(uids)))
			return nil
		}
		if pod >= 0 {
			pods[pod] = append(pods[pod], uid)
		}
	}
	lc.hits.addN(context.Background(), uint64(len(uids)))
	return pods
}

// linkTicket is a read that may fill the cache: the entry it may fill, its
// generation and the tracker's epoch when the read was sent.
type linkTicket struct {
	entry             *cacheEntry[userLinks, struct{}]
	generation, epoch uint64
}

// begin prepares the read of a user's link for the cache: it makes sure
// the user has an entry before the read is sent, so that an invalidation
// that comes while the read is out ends its generation. ok is false when
// the read may not fill the cache (tracking not ready for the namespace).
func (lc *linkCache) begin(namespace, uid string) (t linkTicket, ok bool) {
	epoch := lc.tracker.ready(namespace, monotonic())
	if epoch == 0 {
		return t, false
	}
	en := lc.insert(lc.hash(namespace, uid), namespace, uid)
	if en == nil {
		return t, false
	}
	return linkTicket{entry: en, generation: en.generation.Load(), epoch: epoch}, true
}

// put publishes what a ticket's read found, unless the entry was
// invalidated, evicted or flushed since the ticket was taken, or the
// tracking connection changed: the answer may then be older than a write
// whose invalidation is gone.
func (lc *linkCache) put(t linkTicket, serviceName string, pod int, expires int64) {
	if lc.tracker.epoch.Load() != t.epoch {
		return
	}
	lc.publish(t.entry, t.generation, func(old *userLinks) (*userLinks, int64) {
		var links userLinks
		svc, size := "", userLinksBytes
		if old != nil {
			links = make(userLinks, 0, len(*old)+1)
			for _, l := range *old {
				if l.service == serviceName {
					svc = l.service // keep the copy already held
					continue
				}
				links = append(links, l)
				size += allocSize(len(l.service))
			}
		}
		if svc == "" {
			svc = strings.Clone(serviceName)
		}
		links = append(links, cachedLink{service: svc, pod: pod, expires: expires})
		return &links, size + allocSize(len(svc)) + allocSize(cap(links)*cachedLinkSize)
	})
}

// invalidate drops the links of the user a pushed key belongs to: the link
// hash sf:{<ns>:lk:<uid>} or a link key sf:{<ns>:lk:<uid>}<svc>.
func (lc *linkCache) invalidate(key string) {
	u, ok := parseLinkUser(key)
	if ok && lc.forget(u.namespace, u.name) {
		lc.invalidations[linkByKey].add(context.Background())
	}
}

// forget drops a user's links and says whether there were any. The
// executor's own link writes call it after their reply, so a read that was
// out during the write cannot publish what it read before it.
func (lc *linkCache) forget(namespace, uid string) bool {
	if lc == nil {
		return false
	}
	_, had := lc.cache.invalidate(namespace, uid)
	return had
}

// flush drops every entry. The tracker has ended the epoch first, so no
// read taken before can publish after.
func (lc *linkCache) flush(reason int) {
	lc.invalidations[reason].addN(context.Background(), uint64(lc.clear(false)))
}

// close stops the tracker and drops every entry, at Close.
func (lc *linkCache) close() {
	if lc == nil {
		return
	}
	lc.tracker.close()
	lc.invalidations[linkByLoss].addN(context.Background(), uint64(lc.clear(true)))
}

// parseLinkUser finds the namespace and uid in a link key or link hash:
// sf:{<ns>:lk:<uid>}[<svc>]. Names cannot contain ':' and uids no braces.
func parseLinkUser(key string) (nameKey, bool) {
	rest, ok := strings.CutPrefix(key, "sf:{")
	if !ok {
		return nameKey{}, false
	}
	ns, rest, ok := strings.Cut(rest, ":lk:")
	if !ok || strings.Contains(ns, ":") {
		return nameKey{}, false
	}
	uid, _, ok := strings.Cut(rest, "}")
	return nameKey{ns, uid}, ok
}
