package otelexec

import (
	"github.com/statefulroute/sfotel/internal/contract"

	"context"
	"time"
)

// ComputeLinkedPod returns the pod a user is linked to for a service, linking
// one first when there is none: the live pod with the lowest load (lowest pod
// ID on ties), where live means its state, in the FormatPodState form, has a
// heartbeat no older than aliveWithin. States that do not parse are ignored.
// It returns -1 when there is no link and no live pod.
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
	if err = validatePersist("persistSeconds", persistSeconds); err != nil {
		return -1, err
	}
	if pod, err = e.getLink(ctx, contract.OpComputeLinkedPod, namespace, uid, serviceName); err != nil || pod >= 0 {
		return pod, err
	}
	h, err := e.sharedPodStates(ctx, namespace, serviceName)
	if err != nil {
		return -1, err
	}
	e.skipped(ctx, contract.OpComputeLinkedPod, namespace, serviceName, contract.SkipStateField, h.skipped)
	chosen, unparsed := choosePod(h.states, time.Now(), aliveWithin)
	e.skipped(ctx, contract.OpComputeLinkedPod, namespace, serviceName, contract.SkipStateValue, unparsed)
	if chosen < 0 {
		return -1, nil
	}
	return e.setIfAbsent(ctx, contract.OpComputeLinkedPod, namespace, uid, serviceName, chosen, persistSeconds)
}

// choosePod picks the live pod with the lowest load, lowest pod ID on ties,
// or -1 when no pod is live, and says how many states it could not parse.
// A heartbeat counts as live when it is at most aliveWithin before now (a
// heartbeat ahead of now, from clock skew, too).
func choosePod(states map[int]string, now time.Time, aliveWithin time.Duration) (chosen, unparsed int) {
	best, bestLoad := -1, 0
	for pod, state := range states {
		load, heartbeat, err := ParsePodState(state)
		if err != nil {
			unparsed++
			continue
		}
		if now.Sub(heartbeat) > aliveWithin {
			continue
		}
		if best < 0 || load < bestLoad || load == bestLoad && pod < best {
			best, bestLoad = pod, load
		}
	}
	return best, unparsed
}
