package otelexec

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/contract"
)

// ComputeLinkedPod returns the pod a user is linked to for a service,
// linking one first when there is none: the live pod with the lowest load,
// the lowest pod ID on ties, or -1 when no pod is live. A pod is live when
// its state (ParsePodState) has a heartbeat no older than aliveWithin and
// at most MaxHeartbeatSkew ahead, in whole seconds or milliseconds as the
// Java executor counts them. States and fields that do not parse are
// passed over, counted and logged (stateful_executor.stored_values.skipped).
//
// An existing link wins, read as GetLinkedPod reads it, even when its pod
// is not live, as in the Java executor (a kept_stale decision;
// RouteLinkedPod moves such users). The pod states are read on every call,
// from the state cache or in the link read's round trip, so that every
// decision and the pods it saw are recorded (docs/telemetry.md, "Routing
// health"). With WithStateCache, aliveWithin must be longer than its TTL.
// On Redis Cluster too, the pod is chosen in Go and linked by the
// SetLinkedPodIfAbsent script on the user's slot: a link another caller
// set meanwhile wins.
func (e *Executor) ComputeLinkedPod(ctx context.Context, namespace, uid, serviceName string, aliveWithin time.Duration, persistSeconds int) (pod int, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpComputeLinkedPod, namespace, serviceName)
	defer op.end(&err)
	pod, _, err = e.route(ctx, op, namespace, uid, serviceName, aliveWithin, persistSeconds, false)
	return pod, err
}

// RouteLinkedPod is ComputeLinkedPod for a router, which must not keep a
// user on a dead pod: it moves a user linked to a pod that is not live to
// the least-loaded live pod, if there is one (RoutingMoved, counted in
// stateful_executor.links.moved), and returns what it decided. The move
// removes the link only if it still points to the dead pod, then links as
// SetLinkedPodIfAbsent does, so a link another caller set meanwhile wins
// (RoutingRaced). A Java executor keeps such links: use it where sfotel
// routes alone. It is recorded as the ComputeLinkedPod operation.
func (e *Executor) RouteLinkedPod(ctx context.Context, namespace, uid, serviceName string, aliveWithin time.Duration, persistSeconds int) (pod int, outcome RoutingOutcome, err error) {
	ctx, op := e.tel.startFor(ctx, contract.OpComputeLinkedPod, namespace, serviceName)
	defer op.end(&err)
	return e.route(ctx, op, namespace, uid, serviceName, aliveWithin, persistSeconds, true)
}

// route is ComputeLinkedPod, and with move RouteLinkedPod.
func (e *Executor) route(ctx context.Context, o op, namespace, uid, serviceName string, aliveWithin time.Duration, persistSeconds int, move bool) (int, RoutingOutcome, error) {
	if err := e.check(validateLink(namespace, uid, serviceName), e.validateAlive(aliveWithin), validatePersist("persistSeconds", persistSeconds)); err != nil {
		return -1, 0, err
	}
	c := newChooser(time.Now(), aliveWithin)
	linked, statesRead, err := e.readRoute(ctx, namespace, uid, serviceName, &c)
	if err != nil {
		return -1, 0, err
	}
	if statesRead {
		e.tel.pods(o, &c)
	}
	pod, outcome := linked, RoutingKept
	switch {
	case linked >= 0 && (c.linkedLive || !statesRead):
	case linked >= 0 && (!move || c.pod < 0):
		outcome = RoutingKeptStale
	case linked >= 0:
		if pod, err = e.moveOff(ctx, namespace, uid, serviceName, linked, c.pod, persistSeconds); err != nil {
			return -1, 0, err
		}
		outcome = RoutingMoved
		if pod != c.pod {
			outcome = RoutingRaced
		}
	case c.pod < 0:
		outcome = RoutingNoLivePod
	default:
		if pod, err = e.setIfAbsent(ctx, contract.OpComputeLinkedPod, namespace, uid, serviceName, c.pod, persistSeconds); err != nil {
			return -1, 0, err
		}
		outcome = RoutingLinked
		if pod != c.pod {
			outcome = RoutingRaced
		}
	}
	e.tel.decided(ctx, outcome)
	return pod, outcome, nil
}

// readRoute reads the user's link and offers the service's pod states to
// c, in one round trip: the states from the state cache, or their HGETALL
// sent with the link's reads. It returns the link's pod, or -1, and whether
// the states were read: a linked user whose states cannot be read keeps
// the link.
func (e *Executor) readRoute(ctx context.Context, namespace, uid, serviceName string, c *chooser) (pod int, statesRead bool, err error) {
	_, field, link := linkCmds(ctx, namespace, uid, serviceName)
	s, statesErr := e.states.get(ctx, namespace, serviceName) // s nil: no cache, or it turned the service away
	var raw map[string]string
	if s != nil || statesErr != nil {
		err = e.send.pair(ctx, field, link, nil)
	} else {
		states := redis.NewMapStringStringCmd(ctx, "hgetall", stateKey(namespace, serviceName))
		err = e.send.pair(ctx, field, link, states)
		raw, statesErr = states.Val(), states.Err()
	}
	if err != nil && (ctx.Err() != nil || !answered(field) || !answered(link)) {
		return -1, false, err // the link unread; else statesErr has the error
	}
	pod, bad, err := linkOf(field, link)
	e.skipped(ctx, contract.OpComputeLinkedPod, namespace, serviceName, contract.SkipLinkValue, bad)
	if err != nil {
		return -1, false, err
	}
	if statesErr != nil {
		// States another writer broke (a key of another type) never take a
		// linked user's routing down: the link is kept, unverified.
		if pod >= 0 {
			return pod, false, nil
		}
		return -1, false, statesErr
	}
	c.linked = pod
	var skipped, unparsed int
	if s != nil {
		s.choose(c)
		skipped, unparsed = s.skipped, s.unparsed
	} else {
		_, skipped, unparsed = chooseRaw(c, raw)
	}
	e.skipped(ctx, contract.OpComputeLinkedPod, namespace, serviceName, contract.SkipStateField, skipped)
	e.skipped(ctx, contract.OpComputeLinkedPod, namespace, serviceName, contract.SkipStateValue, unparsed)
	return pod, true, nil
}

// moveOff moves a user's link off the pod dead to the pod to: it removes
// the link if it still points to dead, then links as SetLinkedPodIfAbsent
// does, and returns the pod the user is linked to afterwards.
func (e *Executor) moveOff(ctx context.Context, namespace, uid, serviceName string, dead, to, persistSeconds int) (int, error) {
	if _, _, err := parseRemoveReply(e.evalSha(ctx, e.scripts.removeWithID, namespace, uid, serviceName, -1, dead)); err != nil {
		return -1, err
	}
	pod, err := e.setIfAbsent(ctx, contract.OpComputeLinkedPod, namespace, uid, serviceName, to, persistSeconds)
	if err == nil && pod == to {
		e.tel.moved(ctx, contract.MovedByRouteLinkedPod)
	}
	return pod, err
}

// answered reports whether cmd got a reply from Redis: a value, or nil.
func answered(cmd redis.Cmder) bool {
	err := cmd.Err()
	return err == nil || errors.Is(err, redis.Nil)
}

// RoutingOutcome is what ComputeLinkedPod or RouteLinkedPod decided, as
// stateful_executor.routing.decisions counts it (its outcome attribute is
// the String of the value).
type RoutingOutcome = contract.Outcome

// The outcomes of a routing decision.
const (
	RoutingKept      = contract.OutcomeKept      // the link kept; its pod is live
	RoutingKeptStale = contract.OutcomeKeptStale // the link kept, its pod not live: the user is held on a dead pod
	RoutingLinked    = contract.OutcomeLinked    // no link: linked to the least-loaded live pod
	RoutingRaced     = contract.OutcomeRaced     // another caller linked the user first; its link kept
	RoutingNoLivePod = contract.OutcomeNoLivePod // no link and no live pod: -1
	RoutingMoved     = contract.OutcomeMoved     // RouteLinkedPod moved the user off a pod that is not live
)
