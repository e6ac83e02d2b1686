package otelexec

import (
	"context"

	"github.com/statefulroute/sfotel/internal/contract"
)

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

// decided counts a routing decision.
func (t *telemetry) decided(ctx context.Context, o RoutingOutcome) {
	if ms := t.meters; ms != nil {
		ms.decisions.Add(ctx, 1, ms.outcomes[o]...)
	}
}

// moved counts a user's link replaced by a link to another pod.
func (t *telemetry) moved(ctx context.Context, by contract.Mover) {
	if ms := t.meters; ms != nil {
		ms.moves.Add(ctx, 1, ms.movers[by]...)
	}
}

// pods records the pods a routing decision saw (c, after the pass over the
// service's states): live and not live pods, the age of the oldest live
// heartbeat, and the live pods' load spread, under the operation's
// (namespace, service) pair with WithServiceAttributes, under no
// attributes otherwise.
func (t *telemetry) pods(o op, c *chooser) {
	ms := t.meters
	if ms == nil {
		return
	}
	counts := &ms.noService
	if ms.pairs != nil {
		counts = &ms.pairs.get(o.namespace, o.service, false).pods
	}
	ms.pods.Record(o.ctx, int64(c.live), counts.live...)
	ms.pods.Record(o.ctx, int64(c.dead), counts.stale...)
	if c.live == 0 {
		return
	}
	age := float64(c.window.nowMs-c.oldestMs) / 1000
	ms.podAge.Record(o.ctx, max(age, 0), counts.all...)
	spread := 1.0 // every live pod at load 0 is an even spread
	if c.loadSum > 0 {
		spread = float64(c.loadMax) / (c.loadSum / float64(c.live))
	}
	ms.podSpread.Record(o.ctx, spread, counts.all...)
}
