package otelexec

import (
	"github.com/statefulroute/sfotel/internal/contract"

	"context"
	"time"
)

// ComputeLinkedPod returns the pod a user is linked to for a service, linking
// one first when there is none: the live pod with the lowest load (lowest pod
// ID on ties), where live means its state ("<load>-<heartbeat>",
// ParsePodState) has a heartbeat, in Unix seconds or milliseconds, at or
// after the current time minus aliveWithin, both in whole seconds (or
// milliseconds) as the Java executor counts them, and at most
// MaxHeartbeatSkew ahead of the current time. A state that does not parse,
// and a pod state field that is not a pod ID, are passed over, counted and
// logged (stateful_executor.stored_values.skipped). It returns -1 when
// there is no link and no live pod.
//
// An existing link wins, read as GetLinkedPod reads it: a field of the
// user's link hash (a Java-computed link) or a link key, temporary links
// included.
//
// With WithStateCache, aliveWithin must be longer than the cache's TTL (an
// *ArgumentError for aliveWithin otherwise): a state read through the cache
// is up to the TTL old, so with aliveWithin at or below it most calls would
// find every pod dead. Choose aliveWithin above the TTL plus the pods'
// heartbeat interval.
//
// It works on Redis Cluster: the pod states (one hash tag) are read and the
// pod is chosen in Go, then linked with the SetLinkedPodIfAbsent script on the
// user's own slot, so a link set concurrently by another caller wins.
func (e *Executor) ComputeLinkedPod(ctx context.Context, namespace, uid, serviceName string, aliveWithin time.Duration, persistSeconds int) (pod int, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpComputeLinkedPod, namespace, serviceName)
	defer op.end(&err)
	if err = e.check(); err != nil {
		return -1, err
	}
	if err = validateLink(namespace, uid, serviceName); err != nil {
		return -1, err
	}
	if aliveWithin <= 0 {
		return -1, &ArgumentError{Field: "aliveWithin", Reason: "must be positive"}
	}
	if e.states != nil && aliveWithin <= e.states.ttl {
		return -1, &ArgumentError{Field: "aliveWithin", Reason: "must be longer than the WithStateCache TTL (" +
			e.states.ttl.String() + "): a cached heartbeat is up to that old when it is read, so pods would look dead"}
	}
	if err = validatePersist("persistSeconds", persistSeconds); err != nil {
		return -1, err
	}
	if pod, err = e.getLink(ctx, contract.OpComputeLinkedPod, namespace, uid, serviceName); err != nil || pod >= 0 {
		return pod, err
	}
	chosen, err := e.choosePodOf(ctx, namespace, serviceName, aliveWithin)
	if err != nil || chosen < 0 {
		return -1, err
	}
	return e.setIfAbsent(ctx, contract.OpComputeLinkedPod, namespace, uid, serviceName, chosen, persistSeconds)
}

// choosePodOf reads the service's pod states and picks its live pod with
// the lowest load (chooser), counting and logging what it passed over. With
// a state cache the states were parsed when they were read (parsedStates),
// so a call on a cached service is one pass over integers; without one, the
// HGETALL's reply is parsed in the same pass that chooses.
func (e *Executor) choosePodOf(ctx context.Context, namespace, serviceName string, aliveWithin time.Duration) (int, error) {
	var (
		chosen, skipped, unparsed int
		s                         *stateSnapshot // nil: no cache, or it turned the service away
	)
	if e.states != nil {
		var err error
		if s, err = e.states.get(ctx, namespace, serviceName); err != nil {
			return -1, err
		}
	}
	if s != nil {
		chosen, skipped, unparsed = s.choose(time.Now(), aliveWithin), s.skipped, s.unparsed
	} else {
		raw, err := e.podStateFields(ctx, namespace, serviceName)
		if err != nil {
			return -1, err
		}
		chosen, skipped, unparsed = chooseRaw(raw, time.Now(), aliveWithin)
	}
	e.skipped(ctx, contract.OpComputeLinkedPod, namespace, serviceName, contract.SkipStateField, skipped)
	e.skipped(ctx, contract.OpComputeLinkedPod, namespace, serviceName, contract.SkipStateValue, unparsed)
	return chosen, nil
}

// choosePod picks the live pod with the lowest load, lowest pod ID on ties,
// or -1 when no pod is live, and says how many states it could not parse.
// Live is the Java executor's rule (livenessAt): a heartbeat no older than
// aliveWithin, counted in whole seconds or milliseconds, the boundary
// included, and no more than MaxHeartbeatSkew ahead. It is the rule over
// states as GetServiceState returns them; the executor itself chooses over
// parsedStates or a raw HGETALL reply (choosePodOf), by the same chooser.
func choosePod(states map[int]string, now time.Time, aliveWithin time.Duration) (chosen, unparsed int) {
	c := newChooser(now, aliveWithin)
	for pod, state := range states {
		load, beat, ok := parseState(state)
		if !ok {
			unparsed++
			continue
		}
		c.offer(pod, int64(load), beat)
	}
	return c.pod, unparsed
}
