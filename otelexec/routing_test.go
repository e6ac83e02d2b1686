package otelexec

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
)

// routingVariants are the two ways a decision reads pod states: in the
// link read's pipeline, and from the state cache.
var routingVariants = []struct {
	name string
	opts []Option
}{{"direct", nil}, {"state cache", []Option{WithStateCache(time.Second)}}}

// TestRoutingDecisions provokes every outcome of a routing decision on a
// real Redis, with and without the state cache, and reads back what the
// executor recorded: the decisions, the moves, and the pods it saw.
func TestRoutingDecisions(t *testing.T) {
	for _, opts := range routingVariants {
		t.Run(opts.name, func(t *testing.T) {
			e, ns := newInstrumented(t, opts.opts...)
			ctx := testContext(t)
			raw := redistest.Client(t)
			decide := func(uid string, move bool) (int, RoutingOutcome) {
				t.Helper()
				if move {
					pod, outcome := must2[int, RoutingOutcome](t)(e.RouteLinkedPod(ctx, ns, uid, "game", time.Minute, PersistForever))
					return pod, outcome
				}
				return must[int](t)(e.ComputeLinkedPod(ctx, ns, uid, "game", time.Minute, PersistForever)), RoutingOutcome(255)
			}
			decisions := func(o RoutingOutcome) int64 {
				return sumOf(t, e.collect(t), contract.MetricRoutingDecisions, attribute.String(contract.AttrOutcome, o.String()))
			}

			if pod, outcome := decide("u0", true); pod != -1 || outcome != RoutingNoLivePod {
				t.Fatalf("no pods: %d, %v; want -1, no_live_pod", pod, outcome)
			}
			now := time.Now()
			must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "game", 1, FormatPodState(6, now)))
			must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "game", 2, FormatPodState(2, now)))
			must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "game", 3, FormatPodState(0, now.Add(-10*time.Minute))))
			if pod, _ := decide("u1", false); pod != 2 {
				t.Fatalf("new link: pod %d, want 2, the least-loaded live pod", pod)
			}
			if pod, outcome := decide("u1", true); pod != 2 || outcome != RoutingKept {
				t.Fatalf("second call: %d, %v; want 2, kept", pod, outcome)
			}

			// Pod 2 stops heartbeating: ComputeLinkedPod keeps the user on
			// it, as the Java executor does, and says so.
			must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "game", 2, FormatPodState(2, now.Add(-2*time.Minute))))
			if pod, _ := decide("u1", false); pod != 2 {
				t.Fatalf("ComputeLinkedPod on a dead pod's user: %d, want 2 (the link wins)", pod)
			}
			rm := e.collect(t)
			if got := sumOf(t, rm, contract.MetricRoutingDecisions, attribute.String(contract.AttrOutcome, "kept_stale")); got != 1 {
				t.Fatalf("kept_stale decisions %d, want 1", got)
			}
			if live, stale := podGauge(t, rm, contract.PodLive), podGauge(t, rm, contract.PodStale); live != 1 || stale != 2 {
				t.Fatalf("pods live %d, stale %d; want 1 and 2", live, stale)
			}

			// RouteLinkedPod moves them to the live pod.
			if pod, outcome := decide("u1", true); pod != 1 || outcome != RoutingMoved {
				t.Fatalf("RouteLinkedPod on a dead pod's user: %d, %v; want 1, moved", pod, outcome)
			}
			if v := raw.Get(ctx, linkKey(ns, "u1", "game")).Val(); v != "1" {
				t.Fatalf("link after the move %q, want 1", v)
			}
			// With no live pod left, the user stays where they are.
			must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "game", 1, FormatPodState(6, now.Add(-2*time.Minute))))
			if pod, outcome := decide("u1", true); pod != 1 || outcome != RoutingKeptStale {
				t.Fatalf("RouteLinkedPod with no live pod: %d, %v; want 1, kept_stale", pod, outcome)
			}
			must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "game", 1, FormatPodState(6, now)))
			must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "game", 2, FormatPodState(2, now)))

			// Another caller links the user between the read and the write.
			e.rdb.AddHook(linkFirst{raw: raw, key: linkKey(ns, "u2", "game"), hash: linkHashKey(ns, "u2"), pod: "3"})
			if pod, outcome := decide("u2", true); pod != 3 || outcome != RoutingRaced {
				t.Fatalf("a link set meanwhile: %d, %v; want 3, raced", pod, outcome)
			}

			for o, want := range map[RoutingOutcome]int64{RoutingNoLivePod: 1, RoutingLinked: 1, RoutingKept: 1, RoutingKeptStale: 2, RoutingMoved: 1, RoutingRaced: 1} {
				if got := decisions(o); got != want {
					t.Errorf("decisions{outcome=%s} = %d, want %d", o, got, want)
				}
			}
			rm = e.collect(t)
			if got := sumOf(t, rm, contract.MetricLinksMoved, attribute.String(contract.AttrOperation, "RouteLinkedPod")); got != 1 {
				t.Errorf("links moved by RouteLinkedPod %d, want 1", got)
			}
			// Live pods 1 (load 6) and 2 (load 2): the highest load is 1.5
			// times the mean.
			if got := gaugeFloat(t, rm, contract.MetricPodLoadSpread); got != 1.5 {
				t.Errorf("load spread %v, want 1.5", got)
			}
			age, ok := findMetric(rm, contract.MetricPodHeartbeatAge)
			if !ok {
				t.Fatal("no heartbeat age histogram")
			}
			p := age.Data.(metricdata.Histogram[float64]).DataPoints[0]
			if v, ok := p.Max.Value(); p.Count == 0 || !ok {
				t.Fatal("heartbeat age recorded nothing")
			} else if v > 60 {
				t.Errorf("oldest live heartbeat %v s old, but live means under 60 s", v)
			}
		})
	}
}

// TestRoutingBrokenStates: a service's states key of another type (data
// another writer stored) never takes a linked user's routing down: the
// link is returned and counted as kept; a user without a link gets the
// error, since no pod can be chosen.
func TestRoutingBrokenStates(t *testing.T) {
	for _, opts := range routingVariants {
		t.Run(opts.name, func(t *testing.T) {
			e, ns := newInstrumented(t, opts.opts...)
			ctx := testContext(t)
			raw := redistest.Client(t)
			if err := raw.Set(ctx, linkKey(ns, "linked", "game"), "4", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := raw.Set(ctx, stateKey(ns, "game"), "not a hash", 0).Err(); err != nil {
				t.Fatal(err)
			}
			for _, move := range []bool{false, true} {
				var (
					pod int
					err error
				)
				if move {
					pod, _, err = e.RouteLinkedPod(ctx, ns, "linked", "game", time.Minute, PersistForever)
				} else {
					pod, err = e.ComputeLinkedPod(ctx, ns, "linked", "game", time.Minute, PersistForever)
				}
				if err != nil || pod != 4 {
					t.Fatalf("linked user, broken states (move %v): %d, %v; want 4, nil", move, pod, err)
				}
			}
			if pod, err := e.ComputeLinkedPod(ctx, ns, "new", "game", time.Minute, PersistForever); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
				t.Fatalf("unlinked user, broken states: %d, %v; want a WRONGTYPE error", pod, err)
			}
			if got := sumOf(t, e.collect(t), contract.MetricRoutingDecisions, attribute.String(contract.AttrOutcome, RoutingKept.String())); got != 2 {
				t.Fatalf("kept decisions %d, want 2", got)
			}
		})
	}
}

// TestLinksMoved: SetLinkedPod over a link to another pod, and
// TrySetLinkedPod over a temporary link (a grace period's) to another pod,
// are moves; setting the same pod again, a first link, and a
// TrySetLinkedPod a persistent link wins are not.
func TestLinksMoved(t *testing.T) {
	e, ns := newInstrumented(t)
	ctx := testContext(t)
	moves := func(by string) int64 {
		return sumOf(t, e.collect(t), contract.MetricLinksMoved, attribute.String(contract.AttrOperation, by))
	}
	must[int](t)(e.SetLinkedPod(ctx, ns, "u", "game", 1, PersistForever))
	must[int](t)(e.SetLinkedPod(ctx, ns, "u", "game", 1, PersistForever))
	if n := moves("SetLinkedPod"); n != 0 {
		t.Fatalf("a first link and the same pod again: %d moves", n)
	}
	must[int](t)(e.SetLinkedPod(ctx, ns, "u", "game", 2, PersistForever))
	if n := moves("SetLinkedPod"); n != 1 {
		t.Fatalf("SetLinkedPod to another pod: %d moves, want 1", n)
	}
	if ok, pod, err := e.TrySetLinkedPod(ctx, ns, "u", "game", 3, PersistForever); err != nil || ok || pod != 2 {
		t.Fatalf("TrySetLinkedPod over a persistent link: %v, %d, %v", ok, pod, err)
	}
	if n := moves("TrySetLinkedPod"); n != 0 {
		t.Fatalf("a TrySetLinkedPod that lost: %d moves", n)
	}
	must[bool](t)(e.RemoveLinkedPod(ctx, ns, "u", "game", 30)) // a grace period on pod 2
	if ok, pod, err := e.TrySetLinkedPod(ctx, ns, "u", "game", 3, PersistForever); err != nil || !ok || pod != 3 {
		t.Fatalf("TrySetLinkedPod over a grace period: %v, %d, %v", ok, pod, err)
	}
	if n := moves("TrySetLinkedPod"); n != 1 {
		t.Fatalf("TrySetLinkedPod over another pod's grace period: %d moves, want 1", n)
	}
}

// TestPodsPerService: with WithServiceAttributes the pods a decision saw
// are recorded under the service's names, without it under none.
func TestPodsPerService(t *testing.T) {
	for _, on := range []bool{false, true} {
		e, ns := newInstrumented(t, WithServiceAttributes(on))
		ctx := testContext(t)
		must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "game", 1, FormatPodState(1, time.Now())))
		must[int](t)(e.ComputeLinkedPod(ctx, ns, "u", "game", time.Minute, PersistForever))
		want := []attribute.KeyValue{attribute.String(contract.AttrPodState, contract.PodLive)}
		if on {
			want = append(want, attribute.String(contract.AttrNamespace, ns), attribute.String(contract.AttrService, "game"))
		}
		if got := gaugeInt(t, e.collect(t), contract.MetricPods, want...); got != 1 {
			t.Errorf("WithServiceAttributes(%v): live pods %d under %v, want 1", on, got, want)
		}
	}
}

// linkFirst links a user, through another client, just before the
// executor's next script call that would set that user's link: a caller
// that wins the race between ComputeLinkedPod's read and its write.
type linkFirst struct {
	raw            *redis.Client
	key, hash, pod string
}

func (h linkFirst) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h linkFirst) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := strings.ToLower(cmd.Name()); (name == "evalsha" || name == "eval") && len(cmd.Args()) > 4 && cmd.Args()[4] == h.key {
			h.raw.Set(ctx, h.key, h.pod, 0)
			h.raw.HSet(ctx, h.hash, "game", h.pod)
		}
		return next(ctx, cmd)
	}
}

func (h linkFirst) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func must2[A, B any](t testing.TB) func(A, B, error) (A, B) {
	return func(a A, b B, err error) (A, B) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}

// podGauge is stateful_executor.pods{state} without service attributes.
func podGauge(t testing.TB, rm metricdata.ResourceMetrics, state string) int64 {
	return gaugeInt(t, rm, contract.MetricPods, attribute.String(contract.AttrPodState, state))
}

func gaugeInt(t testing.TB, rm metricdata.ResourceMetrics, name string, kvs ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := findMetric(rm, name)
	if !ok {
		t.Fatalf("no %s", name)
	}
	want := attribute.NewSet(kvs...)
	for _, p := range m.Data.(metricdata.Gauge[int64]).DataPoints {
		if p.Attributes.Equals(&want) {
			return p.Value
		}
	}
	return -1
}

func gaugeFloat(t testing.TB, rm metricdata.ResourceMetrics, name string) float64 {
	t.Helper()
	m, ok := findMetric(rm, name)
	if !ok {
		t.Fatalf("no %s", name)
	}
	return m.Data.(metricdata.Gauge[float64]).DataPoints[0].Value
}
