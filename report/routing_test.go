package report

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/statefulroute/sfotel/exporters"
	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
)

// routingTraffic makes one decision of each kind on a real executor, on
// three services: match (pods 1 and 3 live at loads 10 and 30, pod 2 an
// hour old), chat (its only pod an hour old) and lobby (four live pods at
// loads 0, 0, 0 and 60).
func routingTraffic(t *testing.T, e *otelexec.Executor, ns string) {
	t.Helper()
	ctx := t.Context()
	now, old := time.Now(), time.Now().Add(-time.Hour)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for pod, st := range map[int]string{1: otelexec.FormatPodState(10, now), 2: otelexec.FormatPodState(5, old), 3: otelexec.FormatPodState(30, now)} {
		must(e.SetServiceState(ctx, ns, "match", pod, st))
	}
	must(e.SetServiceState(ctx, ns, "chat", 1, otelexec.FormatPodState(0, old)))
	for pod, load := range []int{0, 0, 0, 60} {
		must(e.SetServiceState(ctx, ns, "lobby", pod+1, otelexec.FormatPodState(load, now)))
	}
	decide := func(user, svc string, want int) {
		t.Helper()
		pod, err := e.ComputeLinkedPod(ctx, ns, user, svc, 10*time.Second, -1)
		must(err)
		if pod != want {
			t.Fatalf("ComputeLinkedPod(%s, %s) = %d, want %d", user, svc, pod, want)
		}
	}
	for _, u := range []string{"held", "mover"} {
		_, err := e.SetLinkedPod(ctx, ns, u, "match", 2, -1)
		must(err)
	}
	decide("held", "match", 2) // kept_stale
	if pod, o, err := e.RouteLinkedPod(ctx, ns, "mover", "match", 10*time.Second, -1); err != nil || pod != 1 || o != otelexec.RoutingMoved {
		t.Fatalf("RouteLinkedPod = %d, %v, %v; want 1, moved", pod, o, err)
	}
	for i := range 3 {
		decide(fmt.Sprint("new-", i), "match", 1) // linked
	}
	decide("new-0", "match", 1) // kept
	decide("c", "chat", -1)     // no_live_pod
	decide("l", "lobby", 1)     // linked
	for _, pod := range []int{1, 3} {
		_, err := e.SetLinkedPod(ctx, ns, "switcher", "match", pod, -1) // the second moves the link
		must(err)
	}
}

// wantOutcomes are routingTraffic's decisions.
var wantOutcomes = map[string]uint64{"kept": 1, "kept_stale": 1, "linked": 4, "raced": 0, "no_live_pod": 1, "moved": 1}

func newRoutingExecutor(t *testing.T, mp *sdkmetric.MeterProvider, services bool) *otelexec.Executor {
	e, err := otelexec.New(redistest.Client(t), otelexec.WithMeterProvider(mp), otelexec.WithServiceAttributes(services))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func serviceOf(rt *Routing, name string) *RoutingService {
	for i := range rt.Services {
		if rt.Services[i].Service == name {
			return &rt.Services[i]
		}
	}
	return nil
}

func findings(r *Report, id string) []Suggestion {
	var out []Suggestion
	for _, s := range r.Suggestions {
		if s.ID == id {
			out = append(out, s)
		}
	}
	return out
}

func TestRoutingSectionFromRealExecutor(t *testing.T) {
	c, err := NewCollector(WithMinSamples(1))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(c.Reader()))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	e := newRoutingExecutor(t, mp, true)
	ns := redistest.Namespace(t)
	routingTraffic(t, e, ns)
	first := mustTake(t, c)
	r := first.Report()

	rt := r.Routing
	if rt == nil || fmt.Sprint(rt.Outcomes) != fmt.Sprint(wantOutcomes) || rt.Decisions != 8 {
		t.Fatalf("routing %+v, want outcomes %v", rt, wantOutcomes)
	}
	if rt.Moves["RouteLinkedPod"] != 1 || rt.Moves["SetLinkedPod"] != 1 || rt.Moves["TrySetLinkedPod"] != 0 || rt.MovesPerMinute <= 0 {
		t.Fatalf("moves %v, %v/min", rt.Moves, rt.MovesPerMinute)
	}
	if len(rt.Services) != 3 || rt.Services[0].Service != "chat" || rt.Services[2].Service != "match" || rt.Services[0].Namespace != ns {
		t.Fatalf("services %+v, want chat, lobby, match in %s", rt.Services, ns)
	}
	for name, want := range map[string]RoutingService{
		"chat":  {LivePods: 0, StalePods: 1},
		"lobby": {LivePods: 4, LoadSpread: 4, HeartbeatAge: Latency{Count: 1}},
		"match": {LivePods: 2, StalePods: 1, LoadSpread: 1.5, HeartbeatAge: Latency{Count: 6}},
	} {
		got := serviceOf(rt, name)
		if got.LivePods != want.LivePods || got.StalePods != want.StalePods || got.LoadSpread != want.LoadSpread || got.HeartbeatAge.Count != want.HeartbeatAge.Count {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
		if want.HeartbeatAge.Count > 0 && (got.HeartbeatAge.MaxSeconds <= 0 || got.HeartbeatAge.MaxSeconds > 60) {
			t.Errorf("%s: heartbeat age %+v: the live heartbeats were written seconds ago", name, got.HeartbeatAge)
		}
	}

	// Every routing rule fires on this traffic, in units, with the services.
	wantIn := map[string][]string{
		RuleNoLivePod:      {"20% of logins (1 of 5 routing decisions", "on chat in " + ns + " 0 of 1 pods heartbeating"},
		RuleHeldOnDeadPods: {"50% of the 2 decisions that kept a link", "on match in " + ns + " 2 of 3 pods heartbeating"},
		RuleLoadSpread:     {"on lobby in " + ns + ": its busiest live pod reports 4.0× the mean load of its 4 live pods (threshold 2×)"},
		RuleLinksMoved:     {"(1 moves, 12% of 8 routing decisions, threshold 0.10%)", "; the oldest live heartbeat came latest on "},
	}
	for id, parts := range wantIn {
		got := findings(r, id)
		if len(got) != 1 {
			t.Errorf("%s: %d findings, want 1 (suggestions %+v)", id, len(got), r.Suggestions)
			continue
		}
		for _, p := range parts {
			if !strings.Contains(got[0].Message, p) {
				t.Errorf("%s: message %q lacks %q", id, got[0].Message, p)
			}
		}
		if len(got[0].Evidence) == 0 {
			t.Errorf("%s: no evidence", id)
		}
	}
	if s := findings(r, RuleNoLivePod); len(s) == 1 && (s[0].Severity != SeverityCritical || r.Suggestions[0].ID != RuleNoLivePod) {
		t.Errorf("no_live_pod is %s and not first: %+v", s[0].Severity, r.Suggestions)
	}

	var text, page strings.Builder
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	line := "match in " + ns + ": 2 of 3 pods heartbeating, load spread 1.50×, oldest live heartbeat p50"
	for _, want := range []string{"ROUTING\n8 decisions: kept 1 kept_stale 1 linked 4 raced 0 no_live_pod 1 moved 1\n", line, "chat in " + ns + ": 0 of 1 pods heartbeating\n"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if !strings.Contains(page.String(), `<ul id="routing">`) || !strings.Contains(page.String(), "<li>"+line) {
		t.Errorf("HTML lacks the routing section with %q", line)
	}

	// An interval report differences the counters and keeps the gauges.
	if _, err := e.ComputeLinkedPod(t.Context(), ns, "new-1", "match", 10*time.Second, -1); err != nil {
		t.Fatal(err)
	}
	d := Delta(first, mustTake(t, c)).Routing
	if d == nil || d.Decisions != 1 || d.Outcomes["kept"] != 1 || d.Moves["RouteLinkedPod"] != 0 {
		t.Fatalf("interval routing %+v, want one kept decision", d)
	}
	if m := serviceOf(d, "match"); m.HeartbeatAge.Count != 1 || m.LivePods != 2 || m.LoadSpread != 1.5 {
		t.Fatalf("interval match %+v", m)
	}
}

// Without WithServiceAttributes the pods are the last decision's service's,
// and the messages say so.
func TestRoutingWithoutServiceAttributes(t *testing.T) {
	c, err := NewCollector(WithMinSamples(1))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(c.Reader()))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	ns := redistest.Namespace(t)
	routingTraffic(t, newRoutingExecutor(t, mp, false), ns)
	r := mustSnapshot(t, c)
	if rt := r.Routing; len(rt.Services) != 1 || rt.Services[0].Service != "" || rt.Services[0].LivePods != 4 {
		t.Fatalf("services %+v, want one without names: lobby's four live pods", rt.Services)
	}
	if s := findings(r, RuleLoadSpread); len(s) != 1 || !strings.Contains(s[0].Message, "on the last service decided on") {
		t.Fatalf("load_spread %+v", s)
	}
	if _, ok := findings(r, RuleLoadSpread)[0].Evidence[contract.MetricPodLoadSpread]; !ok {
		t.Fatalf("evidence %v", findings(r, RuleLoadSpread)[0].Evidence)
	}
}

// A process without routing decisions has no routing section.
func TestRoutingAbsentWithoutDecisions(t *testing.T) {
	f := newFixture(t)
	f.calls(contract.OpGetLinkedPod.String(), 10, 0.001)
	if r := f.snapshot(); r.Routing != nil {
		t.Fatalf("routing %+v", r.Routing)
	}
}

// routingReport is a report of a minute with the given decisions, moves and
// one service's pods.
func routingReport(outcomes map[string]uint64, routeMoves uint64, live, stale int64, spread float64) *Report {
	rt := &Routing{Outcomes: outcomes, Moves: map[string]uint64{"RouteLinkedPod": routeMoves}, Services: []RoutingService{{Service: "match", LivePods: live, StalePods: stale, LoadSpread: spread}}}
	for _, n := range outcomes {
		rt.Decisions += n
	}
	r := &Report{Window: Window{Seconds: 60}, Thresholds: defaultConfig().thresholds(), Routing: rt}
	r.Suggestions = suggest(r, &rawData{})
	return r
}

func ids(r *Report) []string {
	var out []string
	for _, s := range r.Suggestions {
		out = append(out, s.ID)
	}
	return out
}

// Each rule fires above its threshold and not at it; a healthy minute and
// one with too few decisions raise nothing.
func TestRoutingRuleThresholds(t *testing.T) {
	for _, c := range []struct {
		name     string
		outcomes map[string]uint64
		moves    uint64
		live     int64
		stale    int64
		spread   float64
		want     []string
	}{
		{"healthy", map[string]uint64{"kept": 900, "linked": 100}, 0, 8, 0, 1.3, nil},
		{"too few decisions", map[string]uint64{"kept": 50, "no_live_pod": 50, "kept_stale": 50}, 50, 0, 8, 0, nil},
		{"no live pod at the threshold", map[string]uint64{"kept": 900, "linked": 99, "no_live_pod": 1}, 0, 8, 0, 1.3, nil},
		{"no live pod above it", map[string]uint64{"kept": 900, "linked": 98, "no_live_pod": 2}, 0, 0, 8, 0, []string{RuleNoLivePod}},
		{"held at the threshold", map[string]uint64{"kept": 99, "kept_stale": 1, "linked": 900}, 0, 7, 1, 1.3, nil},
		{"held above it", map[string]uint64{"kept": 98, "kept_stale": 2, "linked": 900}, 0, 7, 1, 1.3, []string{RuleHeldOnDeadPods}},
		{"moves at the threshold", map[string]uint64{"kept": 999, "moved": 1}, 1, 8, 0, 1.3, nil},
		{"moves above it", map[string]uint64{"kept": 998, "moved": 2}, 2, 8, 0, 1.3, []string{RuleLinksMoved}},
		{"spread under the threshold", map[string]uint64{"kept": 1000}, 0, 8, 0, 1.99, nil},
		{"spread at it", map[string]uint64{"kept": 1000}, 0, 8, 0, 2, []string{RuleLoadSpread}},
		{"spread of one live pod", map[string]uint64{"kept": 1000}, 0, 1, 7, 8, nil},
	} {
		r := routingReport(c.outcomes, c.moves, c.live, c.stale, c.spread)
		if got := ids(r); !slices.Equal(got, c.want) {
			t.Errorf("%s: findings %v, want %v", c.name, got, c.want)
		}
	}
	r := routingReport(map[string]uint64{"kept": 1000, "kept_stale": 500}, 0, 6, 2, 1)
	if s := r.Suggestions[0]; !strings.Contains(s.Message, "500/min (33% of the 1500 decisions that kept a link, threshold 1.0%)") || !strings.Contains(s.Message, "on match 6 of 8 pods heartbeating") {
		t.Fatalf("message %q", s.Message)
	}
}

// Logins that found no pod after a Redis restart are the restart's
// aftermath: script_reloads comes first and no_live_pod says why.
func TestNoLivePodAfterRedisRestart(t *testing.T) {
	r := routingReport(map[string]uint64{"kept": 900, "linked": 90, "no_live_pod": 10}, 0, 8, 0, 1.1)
	r.Redis = Redis{ScriptCache: ScriptCache{Reloads: 3, Misses: 3, ReloadsAfterWarmup: 3}, Pool: Pool{Misses: 8, InUse: 2, Idle: 2}}
	r.Suggestions = suggest(r, &rawData{})
	if got := ids(r); !slices.Equal(got, []string{RuleScriptReloads, RuleNoLivePod}) {
		t.Fatalf("findings %v", got)
	}
	if s := r.Suggestions[1]; s.Severity != SeverityWarning || !strings.Contains(s.Message, "after Redis restarted in the window") {
		t.Fatalf("no_live_pod %s: %q", s.Severity, s.Message)
	}
}

// The fleet report shows the routing section of the process report, from
// the same instruments scraped by a real Prometheus.
func TestRoutingFleetMatchesProcess(t *testing.T) {
	prom, err := exporters.NewPrometheus(exporters.WithGoCollector(false), exporters.WithProcessCollector(false))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCollector(WithMinSamples(1))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(prom), sdkmetric.WithReader(c.Reader()))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	srv := httptest.NewServer(prom)
	t.Cleanup(srv.Close)
	start := time.Now().Add(-2 * time.Second)
	promURL := startPrometheus(t, srv.URL)
	e := newRoutingExecutor(t, mp, true)
	ns := redistest.Namespace(t)
	routingTraffic(t, e, ns)
	own := mustSnapshot(t, c)
	waitScraped(t, promURL, srv.URL, own)
	fr, err := FleetReport(t.Context(), FleetQuery{Prometheus: promURL, Selector: `job="fleet"`, Start: start, End: time.Now()}, WithMinSamples(1))
	if err != nil {
		t.Fatal(err)
	}
	o, f := own.Routing, fr.Routing
	if f == nil || fmt.Sprint(f.Outcomes) != fmt.Sprint(o.Outcomes) || fmt.Sprint(f.Moves) != fmt.Sprint(o.Moves) || len(f.Services) != len(o.Services) {
		t.Fatalf("fleet routing %+v, process %+v", f, o)
	}
	for i := range o.Services {
		a, b := o.Services[i], f.Services[i]
		if a.Namespace != b.Namespace || a.Service != b.Service || a.LivePods != b.LivePods || a.StalePods != b.StalePods ||
			a.LoadSpread != b.LoadSpread || a.HeartbeatAge.Count != b.HeartbeatAge.Count {
			t.Errorf("service %d: fleet %+v, process %+v", i, b, a)
		}
	}
	// The same routing findings (the latency rules judge other buckets).
	routing := func(r *Report) []string {
		var out []string
		for _, id := range ids(r) {
			if slices.Contains([]string{RuleNoLivePod, RuleHeldOnDeadPods, RuleLoadSpread, RuleLinksMoved}, id) {
				out = append(out, id)
			}
		}
		slices.Sort(out)
		return out
	}
	if got, want := routing(fr), routing(own); len(want) != 4 || !slices.Equal(got, want) {
		t.Errorf("fleet routing findings %v, process %v", got, want)
	}
}

func mustTake(t *testing.T, c *Collector) *Snapshot {
	t.Helper()
	s, err := c.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return s
}
