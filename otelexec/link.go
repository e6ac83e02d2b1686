package otelexec

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/contract"
)

// A link is read by one rule everywhere (docs/design.md, "Redis data
// layout"): the user's link hash field first, which the Java executor's
// compute script writes alone, then the link key; a value that is not a
// pod ID is no link. linkOf is the rule in Go, sf_link in
// internal/luascript/prelude.lua in Lua.

// SetLinkedPod links a user to a pod of a service, replacing any link, and
// returns the previous pod or -1. persistSeconds -1 (PersistForever) makes
// the link persistent and records it in the user's link hash; a positive
// value makes it a temporary link that expires after that many seconds.
func (e *Executor) SetLinkedPod(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (previousPod int, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpSetLinkedPod, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(validateSet(namespace, uid, serviceName, podID, persistSeconds)); err != nil {
		return -1, err
	}
	pod, skipped, err := parseLinkReply(e.evalSha(ctx, e.scripts.setLinked, namespace, uid, serviceName, podID, persistSeconds))
	e.skipped(ctx, contract.OpSetLinkedPod, namespace, serviceName, contract.SkipLinkValue, skipped)
	if err == nil && pod >= 0 && pod != podID {
		e.tel.moved(ctx, contract.MovedBySetLinkedPod)
	}
	return pod, err
}

// TrySetLinkedPod links a user to a pod unless a persistent link to another
// pod exists (a hash field, Java-computed ones included, or a link without
// TTL): (true, podID) when it set the link, (false, current pod) when a
// persistent link won. A temporary link is replaced (a move when to another
// pod, counted in stateful_executor.links.moved), and so is a persistent
// link to the same pod, which a positive persistSeconds makes temporary, as
// in the Java executor.
func (e *Executor) TrySetLinkedPod(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (ok bool, currentPod int, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpTrySetLinkedPod, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(validateSet(namespace, uid, serviceName, podID, persistSeconds)); err != nil {
		return false, -1, err
	}
	ok, currentPod, skipped, moved, err := parseTrySetReply(e.evalSha(ctx, e.scripts.trySet, namespace, uid, serviceName, podID, persistSeconds))
	e.skipped(ctx, contract.OpTrySetLinkedPod, namespace, serviceName, contract.SkipLinkValue, skipped)
	if moved {
		e.tel.moved(ctx, contract.MovedByTrySetLinkedPod)
	}
	return ok, currentPod, err
}

// SetLinkedPodIfAbsent links a user to a pod unless any link exists, and
// returns the pod the user is linked to afterwards: the existing one wins
// (persistent or temporary, a Java-computed hash field alone included) and
// is left as it is.
func (e *Executor) SetLinkedPodIfAbsent(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (currentPod int, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpSetLinkedPodIfAbsent, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(validateSet(namespace, uid, serviceName, podID, persistSeconds)); err != nil {
		return -1, err
	}
	return e.setIfAbsent(ctx, contract.OpSetLinkedPodIfAbsent, namespace, uid, serviceName, podID, persistSeconds)
}

func (e *Executor) setIfAbsent(ctx context.Context, id contract.Op, namespace, uid, serviceName string, podID, persistSeconds int) (int, error) {
	pod, skipped, err := parseLinkReply(e.evalSha(ctx, e.scripts.setIfAbsent, namespace, uid, serviceName, podID, persistSeconds))
	e.skipped(ctx, id, namespace, serviceName, contract.SkipLinkValue, skipped)
	if err == nil && pod < 0 {
		return -1, errors.Join(ErrUnexpectedReply, errors.New("script returned -1"))
	}
	return pod, err
}

// GetLinkedPod returns the pod a user is linked to for a service, persistent
// or temporary, or -1 when there is no link: the user's link hash field
// (which the Java executor's compute script writes alone), else the link
// key. A value that is not a pod ID is no link, counted and logged. One
// round trip, HGET and GET on the user's slot; none when the link cache
// has it.
func (e *Executor) GetLinkedPod(ctx context.Context, namespace, uid, serviceName string) (pod int, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpGetLinkedPod, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(validateLink(namespace, uid, serviceName)); err != nil {
		return -1, err
	}
	return e.getLink(ctx, namespace, uid, serviceName)
}

// getLink reads a user's link in one round trip, or none when the link
// cache has it: HGET of the hash field, then GET of the link key (and, for
// the cache, its PTTL). With the field read first, the answer is the link
// as it was at one of the two reads, though they are not one atomic step.
// The cache keeps it unless a value in it is not a pod ID.
func (e *Executor) getLink(ctx context.Context, namespace, uid, serviceName string) (int, error) {
	var (
		t         linkTicket
		cacheable bool
		ttl       *redis.IntCmd
		third     redis.Cmder // ttl, or nil: a nil *IntCmd is no nil Cmder
	)
	if lc := e.links; lc != nil {
		if pod, ok := lc.get(namespace, uid, serviceName); ok {
			return pod, nil
		}
		t, cacheable = lc.begin(namespace, uid)
	}
	key, field, link := linkCmds(ctx, namespace, uid, serviceName)
	var sent int64
	if cacheable {
		ttl = redis.NewIntCmd(ctx, "pttl", key)
		third, sent = ttl, monotonic()
	}
	if err := e.send.pair(ctx, field, link, third); err != nil && !errors.Is(err, redis.Nil) {
		return -1, err
	}
	pod, skipped, err := linkOf(field, link)
	e.skipped(ctx, contract.OpGetLinkedPod, namespace, serviceName, contract.SkipLinkValue, skipped)
	if err != nil || !cacheable || skipped > 0 || ttl.Err() != nil {
		return pod, err
	}
	expires := int64(0)
	if field.Err() != nil && pod >= 0 && ttl.Val() >= 0 {
		// The link key's pod, and the key has a TTL: it goes then.
		expires = sent + ttl.Val()*int64(time.Millisecond)
	}
	e.links.put(t, serviceName, pod, expires)
	return pod, nil
}

// linkCmds are the reads of a user's link, for linkOf: HGET of the hash
// field and GET of the link key (key), both on the user's slot.
func linkCmds(ctx context.Context, namespace, uid, serviceName string) (key string, field, link *redis.StringCmd) {
	key = linkKey(namespace, uid, serviceName)
	field = redis.NewStringCmd(ctx, "hget", key[:len(key)-len(serviceName)], serviceName)
	return key, field, redis.NewStringCmd(ctx, "get", key)
}

// linkOf is sf_link's rule in Go, over the replies of HGET (the hash
// field) and GET (the link key): the field's pod if it is one, else the
// link key's, else -1; skipped counts the values that are not pod IDs.
func linkOf(field, link *redis.StringCmd) (pod, skipped int, err error) {
	for _, cmd := range [2]*redis.StringCmd{field, link} {
		v, err := cmd.Result()
		if errors.Is(err, redis.Nil) {
			continue
		} else if err != nil {
			return -1, 0, err
		}
		if pod, err := parsePodID(v); err == nil {
			return pod, skipped, nil
		}
		skipped++
	}
	return -1, skipped, nil
}

// GetLinkedPodIfPersist returns the pod a user is persistently linked to for
// a service, or -1 when the link is missing or temporary. A field of the
// user's link hash is a persistent link (the Java executor's compute script
// writes the field alone), and so is a link key without TTL.
func (e *Executor) GetLinkedPodIfPersist(ctx context.Context, namespace, uid, serviceName string) (pod int, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpGetLinkedPodIfPersist, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(validateLink(namespace, uid, serviceName)); err != nil {
		return -1, err
	}
	pod, skipped, err := parseLinkReply(e.evalSha(ctx, e.scripts.getIfPersist, namespace, uid, serviceName))
	e.skipped(ctx, contract.OpGetLinkedPodIfPersist, namespace, serviceName, contract.SkipLinkValue, skipped)
	return pod, err
}

// BatchGetLinkedPod returns, for one service, pod → the uids linked to it,
// each link read as GetLinkedPod reads it: pipelines of HGET and GET, which
// go-redis splits per node on Redis Cluster (one MGET across hash tags
// would fail with CROSSSLOT). Uids without a link are left out; a uid given
// twice is listed twice, as the Java executor lists it. A nil or empty
// slice gives an empty map without calling Redis. It works batchChunk uids
// at a time: the memory it takes beyond its result is one chunk's, and a
// canceled call stops within one. With WithLinkCache, a batch whose every
// uid is cached is answered from memory.
func (e *Executor) BatchGetLinkedPod(ctx context.Context, namespace string, uids []string, serviceName string) (pods map[int][]string, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpBatchGetLinkedPod, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(validateServiceArgs(namespace, serviceName)); err != nil {
		return nil, err
	}
	if err = validateEach(ctx, "uids", uids, validateUID); err != nil {
		return nil, err
	}
	if e.links != nil && len(uids) > 0 {
		if pods = e.links.batch(namespace, uids, serviceName); pods != nil {
			return pods, nil
		}
	}
	pods = make(map[int][]string)
	n := min(len(uids), batchChunk)
	fields, links := make([]*redis.StringCmd, n), make([]*redis.StringCmd, n)
	bad := 0
	err = e.pipelined(ctx, len(uids),
		func(p redis.Pipeliner, i int) {
			_, field, link := linkCmds(ctx, namespace, uids[i], serviceName)
			fields[i%batchChunk], links[i%batchChunk] = queued(ctx, p, field), queued(ctx, p, link)
		},
		func(i int) error {
			pod, skipped, err := linkOf(fields[i%batchChunk], links[i%batchChunk])
			if err != nil {
				return err
			}
			bad += skipped
			if pod >= 0 {
				pods[pod] = append(pods[pod], uids[i])
			}
			return nil
		},
		func() { clear(fields); clear(links) })
	if err != nil {
		return nil, err
	}
	e.skipped(ctx, contract.OpBatchGetLinkedPod, namespace, serviceName, contract.SkipLinkValue, bad)
	return pods, nil
}

// RemoveLinkedPod removes a user's link to a service and reports whether a
// link existed (a Java-computed hash field alone counts). persistSeconds -1
// deletes it now; a positive value keeps it as a temporary link for that
// many seconds, a grace period for a reconnecting user. The Java executor
// removes the link at once whatever persistSeconds says (docs/java.md).
func (e *Executor) RemoveLinkedPod(ctx context.Context, namespace, uid, serviceName string, persistSeconds int) (removed bool, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpRemoveLinkedPod, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(validateLink(namespace, uid, serviceName), validatePersist("persistSeconds", persistSeconds)); err != nil {
		return false, err
	}
	removed, skipped, err := parseRemoveReply(e.evalSha(ctx, e.scripts.remove, namespace, uid, serviceName, persistSeconds))
	e.skipped(ctx, contract.OpRemoveLinkedPod, namespace, serviceName, contract.SkipLinkValue, skipped)
	return removed, err
}

// RemoveLinkedPodWithID is RemoveLinkedPod, done only when the link points to
// podID; it reports whether it removed one. Its arguments come in the order
// of SetLinkedPod's (podID, then persistSeconds); the Java executor's
// removeLinkedPodWithId takes them the other way round.
func (e *Executor) RemoveLinkedPodWithID(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (removed bool, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpRemoveLinkedPodWithID, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(validateLink(namespace, uid, serviceName), validatePersist("persistSeconds", persistSeconds), validatePodID("podID", podID)); err != nil {
		return false, err
	}
	removed, skipped, err := parseRemoveReply(e.evalSha(ctx, e.scripts.removeWithID, namespace, uid, serviceName, persistSeconds, podID))
	e.skipped(ctx, contract.OpRemoveLinkedPodWithID, namespace, serviceName, contract.SkipLinkValue, skipped)
	return removed, err
}

// GetLinkService returns a user's persistent links, service → pod; an empty
// map when there are none. A link whose value is not a pod ID is left out,
// counted and logged.
func (e *Executor) GetLinkService(ctx context.Context, namespace, uid string) (links map[string]int, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpGetLinkService, namespace, "")
	defer op.end(&err)
	if err = e.check(validateName("namespace", namespace), validateUID("uid", uid)); err != nil {
		return nil, err
	}
	cmd := redis.NewMapStringStringCmd(ctx, "hgetall", linkHashKey(namespace, uid))
	if err = e.send.do(ctx, cmd); err != nil {
		return nil, err
	}
	links = make(map[string]int, len(cmd.Val()))
	bad := 0
	for service, v := range cmd.Val() {
		if pod, err := parsePodID(v); err == nil {
			links[service] = pod
		} else {
			bad++
		}
	}
	// The service names are the hash's fields, stored data: none is logged.
	e.skipped(ctx, contract.OpGetLinkService, namespace, "", contract.SkipLinkValue, bad)
	return links, nil
}
