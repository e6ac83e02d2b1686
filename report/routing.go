package report

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/statefulroute/sfotel/internal/contract"
)

// Routing is the routing health over the window: what ComputeLinkedPod and
// RouteLinkedPod decided, the links moved to another pod, and, per service,
// the pods as the last decision saw them.
type Routing struct {
	Decisions uint64 `json:"decisions"`
	// Outcomes counts the decisions by outcome (kept, kept_stale, linked,
	// raced, no_live_pod, moved), every outcome present.
	Outcomes map[string]uint64 `json:"outcomes"`
	// Moves counts users' links replaced by a link to another pod, by the
	// operation that replaced them; MovesPerMinute is their sum per minute.
	Moves          map[string]uint64 `json:"moves"`
	MovesPerMinute float64           `json:"moves_per_minute"`
	// Services are the pods per (namespace, service) pair when the executor
	// records them (otelexec.WithServiceAttributes), else one entry without
	// names: the service of the last decision. Sorted by namespace, service.
	Services []RoutingService `json:"services"`
}

// RoutingService is the pods of one service at the end of the window.
type RoutingService struct {
	Namespace string `json:"namespace,omitempty"`
	Service   string `json:"service,omitempty"`
	LivePods  int64  `json:"live_pods"`
	StalePods int64  `json:"stale_pods"`
	// LoadSpread is the highest live load over the mean live load (1 is
	// even); 0 when no pod was live.
	LoadSpread float64 `json:"load_spread"`
	// HeartbeatAge is the age of the oldest live heartbeat at each decision
	// in the window.
	HeartbeatAge Latency `json:"heartbeat_age"`
}

// Routing rule identifiers.
const (
	RuleNoLivePod      = "no_live_pod"
	RuleHeldOnDeadPods = "held_on_dead_pods"
	RuleLoadSpread     = "load_spread"
	RuleLinksMoved     = "links_moved"
)

const (
	// loadSpreadLimit: load_spread fires when a service's busiest live pod
	// reports this many times the mean live load.
	loadSpreadLimit = 2
	// moveShare: links_moved fires when RouteLinkedPod moved users in more
	// than this share of the decisions. A healthy service moves none; one
	// pod of eight that flaps moves a few in a thousand.
	moveShare = 0.001
)

// routing is the routing section, nil when no routing instrument recorded.
// Gauges keep the highest value: one series per service in a process, one
// per instance in a fleet, which see the same pods.
func (raw *rawData) routing(seconds float64) *Routing {
	r := &Routing{Outcomes: map[string]uint64{}, Moves: map[string]uint64{}, Services: []RoutingService{}}
	for o := range contract.NumOutcomes {
		r.Outcomes[o.String()] = 0
	}
	for m := range contract.NumMovers {
		r.Moves[m.String()] = 0
	}
	seen, moves := false, uint64(0)
	tally := func(name string, by map[string]uint64, total *uint64) {
		for a, s := range raw.series[name] {
			if n, ok := by[a[0]]; ok {
				by[a[0]], *total, seen = n+count(s.value), *total+count(s.value), true
			}
		}
	}
	tally(contract.MetricRoutingDecisions, r.Outcomes, &r.Decisions)
	tally(contract.MetricLinksMoved, r.Moves, &moves)
	if seconds > 0 {
		r.MovesPerMinute = float64(moves) * 60 / seconds
	}
	var services map[attrs]*RoutingService
	service := func(a attrs) *RoutingService {
		seen = true
		sv := entry(&services, attrs{a[0], a[1]})
		sv.Namespace, sv.Service = a[0], a[1]
		return sv
	}
	for a, s := range raw.series[contract.MetricPods] {
		switch sv, n := service(a), int64(count(s.value)); a[2] {
		case contract.PodLive:
			sv.LivePods = n
		case contract.PodStale:
			sv.StalePods = n
		}
	}
	for a, s := range raw.series[contract.MetricPodLoadSpread] {
		sv := service(a)
		sv.LoadSpread = max(sv.LoadSpread, s.value)
	}
	for a, s := range raw.series[contract.MetricPodHeartbeatAge] {
		service(a).HeartbeatAge = latencyOf(&s.hist)
	}
	if !seen {
		return nil
	}
	for _, sv := range services {
		r.Services = append(r.Services, *sv)
	}
	slices.SortFunc(r.Services, func(a, b RoutingService) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Service, b.Service))
	})
	return r
}

// name is how messages name the service: "match", "match in ns", or
// "the last service decided on" for an entry without names.
func (s *RoutingService) name() string {
	switch {
	case s.Service == "":
		return "the last service decided on"
	case s.Namespace == "":
		return s.Service
	}
	return s.Service + " in " + s.Namespace
}

func (s *RoutingService) attrs(more ...string) []string {
	var kv []string
	if s.Service != "" {
		kv = append(kv, contract.AttrNamespace, s.Namespace, contract.AttrService, s.Service)
	}
	return append(kv, more...)
}

// podsEvidence cites the service's live and stale pods in ev.
func (s *RoutingService) podsEvidence(ev map[string]float64) {
	ev[key(contract.MetricPods, s.attrs(contract.AttrPodState, contract.PodLive)...)] = float64(s.LivePods)
	ev[key(contract.MetricPods, s.attrs(contract.AttrPodState, contract.PodStale)...)] = float64(s.StalePods)
}

// podsText is "0 of 8 pods heartbeating".
func (s *RoutingService) podsText() string {
	return fmt.Sprintf("%d of %d pods heartbeating", s.LivePods, s.LivePods+s.StalePods)
}

// routed makes a routing rule judge only a routing section that holds
// enough decisions for its shares.
func routed(judge func(view, *Report, *Routing) []Suggestion) func(view) []Suggestion {
	return func(v view) []Suggestion {
		if rt := v.Routing; rt != nil && rt.Decisions >= v.Thresholds.MinSamples {
			return judge(v, v.Report, rt)
		}
		return nil
	}
}

func outcome(rt *Routing, o contract.Outcome) uint64 { return rt.Outcomes[o.String()] }

// deadPods adds, per service with a pod that is not live, its pods to the
// message and the evidence.
func deadPods(rt *Routing, s *Suggestion, onlyNoneLive bool) {
	for i := range rt.Services {
		sv := &rt.Services[i]
		if sv.StalePods == 0 || (onlyNoneLive && sv.LivePods > 0) {
			continue
		}
		s.Message += fmt.Sprintf("; on %s %s", sv.name(), sv.podsText())
		sv.podsEvidence(s.Evidence)
	}
}

// noLivePod fires when logins (decisions for users without a link) found
// no live pod at more than the error-rate threshold: those users were not
// placed at all. Critical, unless Redis restarted in the window.
func noLivePod(v view, r *Report, rt *Routing) []Suggestion {
	none := outcome(rt, contract.OutcomeNoLivePod)
	logins := none + outcome(rt, contract.OutcomeLinked) + outcome(rt, contract.OutcomeRaced)
	share := ratio(none, logins)
	if none == 0 || share <= r.Thresholds.ErrorRate {
		return nil
	}
	s := Suggestion{
		Severity: SeverityCritical,
		weight:   failureWeight * ratio(none, rt.Decisions),
		Message: fmt.Sprintf("Users could not be placed: %s of logins (%d of %d routing decisions for users without a link) found no live pod and got -1 (threshold %s)",
			formatPercent(share), none, logins, formatPercent(r.Thresholds.ErrorRate)),
		Evidence: map[string]float64{
			key(contract.MetricRoutingDecisions, contract.AttrOutcome, contract.OutcomeNoLivePod.String()): float64(none),
			"routing.logins":            float64(logins),
			"routing.no_live_pod_share": share,
		},
	}
	deadPods(rt, &s, true)
	if sr := scriptReloads(v); len(sr) > 0 && sr[0].Cause == CauseRestart {
		// The restart is the cause; script_reloads names it first.
		s.Severity, s.weight = SeverityWarning, 0
		s.Message += ", after Redis restarted in the window (script_reloads): a Redis that keeps no data comes back without the pod states, and logins find no pod until the pods heartbeat again"
	}
	s.Message += ". A pod is live while its heartbeat (SetServiceState) is younger than the aliveWithin the caller passes. Hint: check that the pods run and that their heartbeat loop writes; a pod whose clock is behind writes old heartbeats."
	return []Suggestion{s}
}

// heldOnDeadPods fires when the decisions that kept a user's link kept it
// on a pod that is not live at more than the error-rate threshold.
func heldOnDeadPods(v view, r *Report, rt *Routing) []Suggestion {
	stale := outcome(rt, contract.OutcomeKeptStale)
	kept := stale + outcome(rt, contract.OutcomeKept)
	share := ratio(stale, kept)
	if stale == 0 || share <= r.Thresholds.ErrorRate {
		return nil
	}
	perMin := float64(stale) * 60 / max(r.Window.Seconds, 1e-9)
	s := Suggestion{
		Severity: SeverityWarning,
		weight:   failureWeight * ratio(stale, rt.Decisions),
		Message: fmt.Sprintf("Users are held on dead pods: %s/min (%s of the %d decisions that kept a link, threshold %s) kept a link to a pod that is not live",
			formatRate(perMin), formatPercent(share), kept, formatPercent(r.Thresholds.ErrorRate)),
		Evidence: map[string]float64{
			key(contract.MetricRoutingDecisions, contract.AttrOutcome, contract.OutcomeKeptStale.String()): float64(stale),
			key(contract.MetricRoutingDecisions, contract.AttrOutcome, contract.OutcomeKept.String()):      float64(outcome(rt, contract.OutcomeKept)),
			"routing.kept_stale_per_minute": perMin,
		},
	}
	deadPods(rt, &s, false)
	s.Message += ". ComputeLinkedPod keeps a link whatever its pod's state; RouteLinkedPod moves the user to a live pod. Hint: check the heartbeats of the pods that are not live (a stopped loop, a clock behind), and route users who reconnect with RouteLinkedPod."
	return []Suggestion{s}
}

// loadSpread fires per service whose busiest live pod reports at least
// loadSpreadLimit times the mean live load.
func loadSpread(v view, r *Report, rt *Routing) []Suggestion {
	var out []Suggestion
	for i := range rt.Services {
		sv := &rt.Services[i]
		if sv.LivePods < 2 || sv.LoadSpread < loadSpreadLimit {
			continue
		}
		out = append(out, Suggestion{
			// Weight 0: a balance finding yields to any other warning,
			// dead pods in particular, whose aftermath it can be (users
			// placed again pile onto the pod that reported least).
			Severity: SeverityWarning,
			Message: fmt.Sprintf("Load is uneven on %s: its busiest live pod reports %.1f× the mean load of its %d live pods (threshold %d×). New users go to the least-loaded pod, so one pod piles up users when it reports less than it carries, or when users are linked past ComputeLinkedPod (SetLinkedPod). Hint: compare the loads the pods write (SetServiceState) with the users linked to them.",
				sv.name(), sv.LoadSpread, sv.LivePods, loadSpreadLimit),
			Evidence: map[string]float64{
				key(contract.MetricPodLoadSpread, sv.attrs()...):                               sv.LoadSpread,
				key(contract.MetricPods, sv.attrs(contract.AttrPodState, contract.PodLive)...): float64(sv.LivePods),
			},
		})
	}
	return out
}

// linksMoved fires when RouteLinkedPod moved users off pods that were not
// live in more than moveShare of the decisions. Moves by
// SetLinkedPod and TrySetLinkedPod are the application's choice and are
// not judged.
func linksMoved(v view, r *Report, rt *Routing) []Suggestion {
	moved := rt.Moves[contract.MovedByRouteLinkedPod.String()]
	share := ratio(moved, rt.Decisions)
	if moved == 0 || share <= moveShare {
		return nil
	}
	perMin := float64(moved) * 60 / max(r.Window.Seconds, 1e-9)
	s := Suggestion{
		Severity: SeverityWarning,
		weight:   share,
		Message: fmt.Sprintf("Users are being moved off pods that stopped looking live: %s/min (%d moves, %s of %d routing decisions, threshold %s)",
			formatRate(perMin), moved, formatPercent(share), rt.Decisions, formatPercent(moveShare)),
		Evidence: map[string]float64{
			key(contract.MetricLinksMoved, contract.AttrOperation, contract.MovedByRouteLinkedPod.String()): float64(moved),
			"routing.moves_per_minute": perMin,
		},
	}
	// The service whose heartbeats came latest is the one that flaps.
	if late := highest(rt.Services, func(sv *RoutingService) (float64, bool) {
		return sv.HeartbeatAge.P99Seconds, sv.HeartbeatAge.Count > 0
	}); late != nil {
		s.Message += fmt.Sprintf("; the oldest live heartbeat came latest on %s: %s at p99, %s at most", late.name(), formatSeconds(late.HeartbeatAge.P99Seconds), formatSeconds(late.HeartbeatAge.MaxSeconds))
		s.Evidence[key("routing.heartbeat_age.p99_seconds", late.attrs()...)] = late.HeartbeatAge.P99Seconds
	}
	s.Message += ". Each move loses the user's session on the pod. A pod whose heartbeat comes late now and then (GC or CPU stalls, a heartbeat period close to aliveWithin) flaps between live and dead. Hint: heartbeat at a third of aliveWithin or less, and find what delays the late pod."
	return []Suggestion{s}
}

// lines are the routing section as the text and HTML forms show it.
func (rt *Routing) lines() []string {
	out := []string{counted(fmt.Sprintf("%d decisions:", rt.Decisions), contract.NumOutcomes, rt.Outcomes),
		counted(fmt.Sprintf("links moved: %s/min:", formatRate(rt.MovesPerMinute)), contract.NumMovers, rt.Moves)}
	for i := range rt.Services {
		sv := &rt.Services[i]
		l := sv.name() + ": " + sv.podsText()
		if sv.LivePods > 0 {
			l += fmt.Sprintf(", load spread %.2f×", sv.LoadSpread)
		}
		if a := sv.HeartbeatAge; a.Count > 0 {
			l += fmt.Sprintf(", oldest live heartbeat p50 %s, p99 %s, max %s", formatSeconds(a.P50Seconds), formatSeconds(a.P99Seconds), formatSeconds(a.MaxSeconds))
		}
		out = append(out, l)
	}
	return out
}

// counted is head followed by every name below n with its count in m.
func counted[T contract.Outcome | contract.Mover](head string, n T, m map[string]uint64) string {
	for v := range n {
		head += fmt.Sprintf(" %s %d", v, m[fmt.Sprint(v)])
	}
	return head
}
