package otelexec

import (
	"github.com/statefulroute/sfotel/internal/contract"

	"context"
	"errors"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// validateSet checks the arguments of the link-setting operations.
func validateSet(namespace, uid, serviceName string, podID, persistSeconds int) error {
	if err := validateLink(namespace, uid, serviceName); err != nil {
		return err
	}
	if err := validatePodID("podID", podID); err != nil {
		return err
	}
	return validatePersist("persistSeconds", persistSeconds)
}

// linkKeys are the link hash and link keys of a user's link to a service.
// The hash key is a prefix of the link key, so one string serves both.
func linkKeys(namespace, uid, serviceName string) []string {
	k := linkKey(namespace, uid, serviceName)
	return []string{k[:len(k)-len(serviceName)], k}
}

// SetLinkedPod links a user to a pod of a service, replacing any link, and
// returns the previous pod or -1. persistSeconds -1 (PersistForever) makes
// the link persistent and records it in the user's link hash; a positive
// value makes it a temporary link that expires after that many seconds.
func (e *Executor) SetLinkedPod(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (previousPod int, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpSetLinkedPod, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(); err != nil {
		return -1, err
	}
	if err = validateSet(namespace, uid, serviceName, podID, persistSeconds); err != nil {
		return -1, err
	}
	v, err := e.evalSha(ctx, e.scripts.setLinked, linkKeys(namespace, uid, serviceName),
		serviceName, strconv.Itoa(podID), strconv.Itoa(persistSeconds))
	if err != nil {
		return -1, err
	}
	return parsePodReply(v)
}

// TrySetLinkedPod links a user to a pod unless a persistent link to another
// pod exists. It returns (true, podID) when it set the link and
// (false, current pod) when a persistent link won. A temporary link is
// replaced.
func (e *Executor) TrySetLinkedPod(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (ok bool, currentPod int, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpTrySetLinkedPod, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(); err != nil {
		return false, -1, err
	}
	if err = validateSet(namespace, uid, serviceName, podID, persistSeconds); err != nil {
		return false, -1, err
	}
	v, err := e.evalSha(ctx, e.scripts.trySet, linkKeys(namespace, uid, serviceName),
		serviceName, strconv.Itoa(podID), strconv.Itoa(persistSeconds))
	if err != nil {
		return false, -1, err
	}
	return parseTrySetReply(v)
}

// SetLinkedPodIfAbsent links a user to a pod unless any link exists, and
// returns the pod the user is linked to afterwards: the existing one wins.
func (e *Executor) SetLinkedPodIfAbsent(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (currentPod int, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpSetLinkedPodIfAbsent, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(); err != nil {
		return -1, err
	}
	if err = validateSet(namespace, uid, serviceName, podID, persistSeconds); err != nil {
		return -1, err
	}
	return e.setIfAbsent(ctx, namespace, uid, serviceName, podID, persistSeconds)
}

func (e *Executor) setIfAbsent(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (int, error) {
	v, err := e.evalSha(ctx, e.scripts.setIfAbsent, linkKeys(namespace, uid, serviceName),
		serviceName, strconv.Itoa(podID), strconv.Itoa(persistSeconds))
	if err != nil {
		return -1, err
	}
	pod, err := parsePodReply(v)
	if err == nil && pod < 0 {
		err = errors.Join(ErrUnexpectedReply, errors.New("script returned -1"))
	}
	return pod, err
}

// GetLinkedPod returns the pod a user is linked to for a service, persistent
// or temporary, or -1 when there is no link. A link value that is not a pod
// ID (another writer's data) is no link; it is counted and logged
// (stateful_executor.stored_values.skipped).
func (e *Executor) GetLinkedPod(ctx context.Context, namespace, uid, serviceName string) (pod int, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpGetLinkedPod, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(); err != nil {
		return -1, err
	}
	if err = validateLink(namespace, uid, serviceName); err != nil {
		return -1, err
	}
	return e.getLink(ctx, contract.OpGetLinkedPod, namespace, uid, serviceName)
}

// getLink reads a user's link for operation id; a value that is not a pod
// ID is no link, and counted.
func (e *Executor) getLink(ctx context.Context, id contract.Op, namespace, uid, serviceName string) (int, error) {
	v, err := e.rdb.Get(ctx, linkKey(namespace, uid, serviceName)).Result()
	if errors.Is(err, redis.Nil) {
		return -1, nil
	}
	if err != nil {
		return -1, err
	}
	pod, err := parsePodID(v)
	if err != nil {
		e.skipped(ctx, id, namespace, serviceName, contract.SkipLinkValue, 1)
		return -1, nil
	}
	return pod, nil
}

// GetLinkedPodIfPersist returns the pod a user is persistently linked to for
// a service, or -1 when the link is missing or temporary.
func (e *Executor) GetLinkedPodIfPersist(ctx context.Context, namespace, uid, serviceName string) (pod int, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpGetLinkedPodIfPersist, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(); err != nil {
		return -1, err
	}
	if err = validateLink(namespace, uid, serviceName); err != nil {
		return -1, err
	}
	v, err := e.evalSha(ctx, e.scripts.getIfPersist, []string{linkKey(namespace, uid, serviceName)})
	if err != nil {
		return -1, err
	}
	return parsePodReply(v)
}

// BatchGetLinkedPod returns, for one service, pod → the uids linked to it:
// pipelines of GETs (batchChunk at a time), which go-redis splits per node on
// Redis Cluster (the uids' keys have different hash tags, so one MGET would
// fail with CROSSSLOT). Uids without a link are left out, and so are uids
// whose link value is not a pod ID (counted and logged, as in GetLinkedPod);
// a uid given twice is listed twice, as the Java executor lists it. A nil or empty slice gives
// an empty map without calling Redis. The context is checked every chunk,
// while the uids are validated and while they are read, so a canceled call
// stops at once whatever the batch's size; the memory it takes beyond its
// result is one chunk's.
func (e *Executor) BatchGetLinkedPod(ctx context.Context, namespace string, uids []string, serviceName string) (pods map[int][]string, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpBatchGetLinkedPod, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(); err != nil {
		return nil, err
	}
	if err = validateServiceArgs(namespace, serviceName); err != nil {
		return nil, err
	}
	if err = validateEach(ctx, "uids", uids, validateUID); err != nil {
		return nil, err
	}
	pods = make(map[int][]string)
	bad := 0
	err = e.pipelinedGets(ctx, len(uids), func(i int) string { return linkKey(namespace, uids[i], serviceName) },
		func(i int, v string) error {
			pod, err := parsePodID(v)
			if err != nil {
				bad++
				return nil
			}
			pods[pod] = append(pods[pod], uids[i])
			return nil
		})
	if err != nil {
		return nil, err
	}
	e.skipped(ctx, contract.OpBatchGetLinkedPod, namespace, serviceName, contract.SkipLinkValue, bad)
	return pods, nil
}

// RemoveLinkedPod removes a user's link to a service and reports whether a
// link existed. persistSeconds -1 deletes the link now; a positive value
// keeps it as a temporary link for that many seconds, a grace period in which
// a reconnecting user still finds its pod. Either way the link is no longer
// persistent.
func (e *Executor) RemoveLinkedPod(ctx context.Context, namespace, uid, serviceName string, persistSeconds int) (removed bool, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpRemoveLinkedPod, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(); err != nil {
		return false, err
	}
	if err = validateLink(namespace, uid, serviceName); err != nil {
		return false, err
	}
	if err = validatePersist("persistSeconds", persistSeconds); err != nil {
		return false, err
	}
	v, err := e.evalSha(ctx, e.scripts.remove, linkKeys(namespace, uid, serviceName),
		serviceName, strconv.Itoa(persistSeconds))
	if err != nil {
		return false, err
	}
	return parseBoolReply(v)
}

// RemoveLinkedPodWithID is RemoveLinkedPod, done only when the link points to
// podID; it reports whether it removed one. Its arguments come in the order
// of SetLinkedPod's (podID, then persistSeconds); the Java executor's
// removeLinkedPodWithId takes them the other way round.
func (e *Executor) RemoveLinkedPodWithID(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (removed bool, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpRemoveLinkedPodWithID, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(); err != nil {
		return false, err
	}
	if err = validateLink(namespace, uid, serviceName); err != nil {
		return false, err
	}
	if err = validatePersist("persistSeconds", persistSeconds); err != nil {
		return false, err
	}
	if err = validatePodID("podID", podID); err != nil {
		return false, err
	}
	v, err := e.evalSha(ctx, e.scripts.removeWithID, linkKeys(namespace, uid, serviceName),
		serviceName, strconv.Itoa(persistSeconds), strconv.Itoa(podID))
	if err != nil {
		return false, err
	}
	return parseBoolReply(v)
}

// GetLinkService returns a user's persistent links, service → pod; an empty
// map when there are none. A link whose value is not a pod ID is left out,
// counted and logged.
func (e *Executor) GetLinkService(ctx context.Context, namespace, uid string) (links map[string]int, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpGetLinkService, namespace, "")
	defer op.end(&err)
	if err = e.check(); err != nil {
		return nil, err
	}
	if err = validateName("namespace", namespace); err != nil {
		return nil, err
	}
	if err = validateUID("uid", uid); err != nil {
		return nil, err
	}
	raw, err := e.rdb.HGetAll(ctx, linkHashKey(namespace, uid)).Result()
	if err != nil {
		return nil, err
	}
	links = make(map[string]int, len(raw))
	bad := 0
	for service, v := range raw {
		pod, err := parsePodID(v)
		if err != nil {
			bad++
			continue
		}
		links[service] = pod
	}
	// The service names are the hash's fields, stored data: none is logged.
	e.skipped(ctx, contract.OpGetLinkService, namespace, "", contract.SkipLinkValue, bad)
	return links, nil
}
