package report

import (
	"strings"
	"testing"
	"time"

	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
)

// only returns the suggestions of one rule.
func only(r *Report, id string) []Suggestion {
	var out []Suggestion
	for _, s := range r.Suggestions {
		if s.ID == id {
			out = append(out, s)
		}
	}
	return out
}

// one asserts exactly one suggestion of the rule and returns it.
func one(t *testing.T, r *Report, id string) Suggestion {
	t.Helper()
	got := only(r, id)
	if len(got) != 1 {
		t.Fatalf("%s: %d suggestions, want 1; all: %+v", id, len(got), r.Suggestions)
	}
	s := got[0]
	if s.Message == "" || len(s.Evidence) == 0 {
		t.Fatalf("%s: suggestion without message or evidence: %+v", id, s)
	}
	return s
}

func none(t *testing.T, r *Report, id string) {
	t.Helper()
	if got := only(r, id); len(got) != 0 {
		t.Fatalf("%s fired: %+v", id, got)
	}
}

func wantEvidence(t *testing.T, s Suggestion, key string, value float64) {
	t.Helper()
	got, ok := s.Evidence[key]
	if !ok || relErr(got, value) > 1e-9 {
		t.Fatalf("%s: evidence %s = %v (present %v), want %v; evidence %v", s.ID, key, got, ok, value, s.Evidence)
	}
}

func wantMessage(t *testing.T, s Suggestion, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s.Message, p) {
			t.Fatalf("%s: message %q does not cite %q", s.ID, s.Message, p)
		}
	}
}

// healthy records a run that no rule should object to.
func healthy(f *fixture) {
	for _, op := range contract.Operations() {
		for i := range 150 {
			f.call(op, 0.0004+float64(i%10)*0.00005, "")
		}
	}
	f.pool(5, 15, 20, 0, 0, 0)
	f.count(contract.MetricScriptCacheHits, 1500)
	f.count(contract.MetricScriptCacheMisses, 0)
	f.count(contract.MetricScriptCacheReloads, 0)
	f.connection(true)
}

func TestHealthyRunHasNoSuggestions(t *testing.T) {
	f := newFixture(t)
	healthy(f)
	r := f.snapshot()
	if len(r.Operations) != int(contract.NumOps) {
		t.Fatalf("%d operations, want %d", len(r.Operations), int(contract.NumOps))
	}
	if len(r.Suggestions) != 0 {
		t.Fatalf("healthy run: %+v", r.Suggestions)
	}
}

func TestRuleConnectionDown(t *testing.T) {
	f := newFixture(t)
	f.connection(false)
	s := one(t, f.snapshot(), RuleConnectionDown)
	if s.Severity != SeverityCritical {
		t.Fatalf("severity %s", s.Severity)
	}
	wantEvidence(t, s, key(contract.MetricConnectionStatus, contract.AttrStatus, contract.StatusUp), 0)

	f = newFixture(t)
	f.connection(true)
	none(t, f.snapshot(), RuleConnectionDown)
	none(t, newFixture(t).snapshot(), RuleConnectionDown) // unknown is not down
}

func TestRulePoolExhaustion(t *testing.T) {
	f := newFixture(t)
	f.pool(19, 1, 20, 42, 0, 1.5)
	s := one(t, f.snapshot(), RulePoolExhaustion)
	if s.Severity != SeverityWarning {
		t.Fatalf("severity %s", s.Severity)
	}
	wantEvidence(t, s, contract.MetricPoolWaits, 42)
	wantEvidence(t, s, "redis.pool.utilization", 0.95)
	wantMessage(t, s, "42 calls waited", "1.50s", "19 of 20", "95%")

	f = newFixture(t)
	f.pool(3, 17, 20, 10, 2, 4)
	s = one(t, f.snapshot(), RulePoolExhaustion)
	if s.Severity != SeverityCritical {
		t.Fatalf("timeouts: severity %s, want critical", s.Severity)
	}
	wantEvidence(t, s, contract.MetricPoolTimeouts, 2)
	wantMessage(t, s, "2 calls timed out")

	f = newFixture(t)
	f.pool(10, 10, 20, 42, 0, 1.5) // waits, but the pool is half free now
	none(t, f.snapshot(), RulePoolExhaustion)
	f = newFixture(t)
	f.pool(20, 0, 20, 0, 0, 0) // full, but nobody waited
	none(t, f.snapshot(), RulePoolExhaustion)

	f = newFixture(t, WithPoolUtilizationThreshold(0.5))
	f.pool(10, 10, 20, 42, 0, 1.5)
	one(t, f.snapshot(), RulePoolExhaustion)
}

func TestRuleScriptReloads(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	f := newFixture(t, WithClock(clock.now), WithWarmup(time.Minute))
	f.count(contract.MetricScriptCacheMisses, 7)
	f.count(contract.MetricScriptCacheReloads, 7) // first use of each script
	clock.advance(10 * time.Second)
	r := f.snapshot()
	none(t, r, RuleScriptReloads) // warming up

	clock.advance(time.Minute)
	none(t, f.snapshot(), RuleScriptReloads) // warm-up reloads are expected

	f.count(contract.MetricScriptCacheMisses, 3)
	f.count(contract.MetricScriptCacheReloads, 3) // the cache was flushed
	clock.advance(time.Second)
	cur := f.snapshot()
	s := one(t, cur, RuleScriptReloads)
	wantEvidence(t, s, "redis.script_cache.reloads_after_warmup", 3)
	wantEvidence(t, s, contract.MetricScriptCacheReloads, 10)
	wantMessage(t, s, "reloaded 3 times", "1m0s")

	// The interval report before the flush has none, the one across it has.
	none(t, Delta(r, r), RuleScriptReloads)
	s = one(t, Delta(r, cur), RuleScriptReloads)
	wantEvidence(t, s, "redis.script_cache.reloads_after_warmup", 3)
}

func TestRuleScriptReloadsWithoutSnapshotDuringWarmup(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	f := newFixture(t, WithClock(clock.now), WithWarmup(0))
	f.count(contract.MetricScriptCacheReloads, 2)
	s := one(t, f.snapshot(), RuleScriptReloads)
	wantEvidence(t, s, "redis.script_cache.reloads_after_warmup", 2)
}

func TestRuleErrorRate(t *testing.T) {
	f := newFixture(t)
	f.calls(contract.OpSetLinkedPod.String(), 188, 0.001)
	for range 9 {
		f.call(contract.OpSetLinkedPod.String(), 0.5, contract.ErrorTimeout.String())
	}
	for range 3 {
		f.call(contract.OpSetLinkedPod.String(), 0.001, contract.ErrorConnection.String())
	}
	s := one(t, f.snapshot(), RuleErrorRate)
	if s.Severity != SeverityWarning || s.Operation != contract.OpSetLinkedPod.String() {
		t.Fatalf("%+v", s)
	}
	wantEvidence(t, s, key("error_rate", contract.AttrOperation, contract.OpSetLinkedPod.String()), 0.06)
	wantEvidence(t, s, key(contract.MetricErrors, contract.AttrOperation, contract.OpSetLinkedPod.String(), contract.AttrErrorType, contract.ErrorTimeout.String()), 9)
	wantEvidence(t, s, key(contract.MetricOperations, contract.AttrOperation, contract.OpSetLinkedPod.String()), 200)
	wantMessage(t, s, "SetLinkedPod", "6.0%", "200 calls", "12 errors", "most were timeout (9)")

	// Ten times the threshold is critical.
	f = newFixture(t)
	f.calls(contract.OpSetLinkedPod.String(), 100, 0.001)
	for range 50 {
		f.call(contract.OpSetLinkedPod.String(), 0.001, contract.ErrorConnection.String())
	}
	if s := one(t, f.snapshot(), RuleErrorRate); s.Severity != SeverityCritical {
		t.Fatalf("33%% errors: severity %s, want critical", s.Severity)
	}

	f = newFixture(t)
	f.calls(contract.OpSetLinkedPod.String(), 199, 0.001)
	f.call(contract.OpSetLinkedPod.String(), 0.001, contract.ErrorTimeout.String()) // 0.5%
	none(t, f.snapshot(), RuleErrorRate)

	f = newFixture(t)
	for range 20 { // all failing, but too few calls to judge
		f.call(contract.OpSetLinkedPod.String(), 0.001, contract.ErrorTimeout.String())
	}
	none(t, f.snapshot(), RuleErrorRate)
	f = newFixture(t, WithMinSamples(10))
	for range 20 {
		f.call(contract.OpSetLinkedPod.String(), 0.001, contract.ErrorTimeout.String())
	}
	one(t, f.snapshot(), RuleErrorRate)

	// Invalid input is the caller's fault: not counted here.
	f = newFixture(t)
	f.calls(contract.OpSetLinkedPod.String(), 150, 0.001)
	for range 50 {
		f.call(contract.OpSetLinkedPod.String(), 0.0001, contract.ErrorInvalidArgument.String())
	}
	none(t, f.snapshot(), RuleErrorRate)
}

func TestRuleInvalidInput(t *testing.T) {
	f := newFixture(t)
	f.calls(contract.OpGetLinkService.String(), 99, 0.001)
	f.call(contract.OpGetLinkService.String(), 0.0001, contract.ErrorInvalidArgument.String())
	s := one(t, f.snapshot(), RuleInvalidInput)
	if s.Severity != SeverityInfo || s.Operation != contract.OpGetLinkService.String() {
		t.Fatalf("%+v", s)
	}
	wantEvidence(t, s, key(contract.MetricErrors, contract.AttrOperation, contract.OpGetLinkService.String(), contract.AttrErrorType, contract.ErrorInvalidArgument.String()), 1)
	wantMessage(t, s, "1 of 100 calls", "1.0%")

	f = newFixture(t)
	f.calls(contract.OpGetLinkService.String(), 99, 0.001)
	f.call(contract.OpGetLinkService.String(), 0.001, contract.ErrorTimeout.String())
	none(t, f.snapshot(), RuleInvalidInput)
}

func TestRuleTailLatency(t *testing.T) {
	f := newFixture(t)
	f.calls(contract.OpComputeLinkedPod.String(), 196, 0.001)
	f.calls(contract.OpComputeLinkedPod.String(), 4, 0.05)
	s := one(t, f.snapshot(), RuleTailLatency)
	if s.Operation != contract.OpComputeLinkedPod.String() || s.Severity != SeverityWarning {
		t.Fatalf("%+v", s)
	}
	// Within one bucket (2.2%) of the recorded 50ms and 1ms.
	p99 := s.Evidence[key("p99_seconds", contract.AttrOperation, contract.OpComputeLinkedPod.String())]
	ratio := s.Evidence[key("p99_p50_ratio", contract.AttrOperation, contract.OpComputeLinkedPod.String())]
	if relErr(p99, 0.05) > 0.022 || relErr(ratio, 50) > 0.045 {
		t.Fatalf("p99 %v ratio %v, want about 50ms and 50", p99, ratio)
	}
	wantMessage(t, s, "p99 "+formatSeconds(p99), "49.9× p50 1.00ms", "200 calls")

	f = newFixture(t, WithTailRatioThreshold(60))
	f.calls(contract.OpComputeLinkedPod.String(), 196, 0.001)
	f.calls(contract.OpComputeLinkedPod.String(), 4, 0.05)
	none(t, f.snapshot(), RuleTailLatency)

	f = newFixture(t)
	f.calls(contract.OpComputeLinkedPod.String(), 46, 0.001) // too few calls to judge
	f.calls(contract.OpComputeLinkedPod.String(), 4, 0.05)
	none(t, f.snapshot(), RuleTailLatency)
}

// tailRun records four operations with a 40ms tail (40× p50) and a healthy
// fifth over ten seconds, with the evidence that evidence records.
func tailRun(t *testing.T, evidence func(f *fixture, rt *fakeRuntime)) *Report {
	t.Helper()
	clock := &fakeClock{t: time.Now()}
	rt := &fakeRuntime{os: osRunQueue{ok: true}}
	f := newFixture(t, WithClock(clock.now), withRuntime(rt.read))
	for _, op := range []string{contract.OpGetLinkedPod.String(), contract.OpSetLinkedPod.String(), contract.OpGetLinkService.String(), contract.OpComputeLinkedPod.String()} {
		f.calls(op, 196, 0.001)
		f.calls(op, 4, 0.04)
	}
	f.calls(contract.OpBatchGetLinkedPod.String(), 200, 0.002)
	f.calls(contract.OpRemoveLinkedPod.String(), 40, 0.002) // too few calls to judge
	// A healthy process and Redis unless evidence says otherwise.
	rt.add(&rt.sched, 5000, 20e-6)
	rt.add(&rt.gc, 5, 100e-6)
	rt.os = osRunQueue{waitSeconds: 0.05, timeslices: 5000, ok: true} // 10µs each
	f.pool(2, 8, 10, 0, 0, 0, semconv.DBClientConnectionPoolName("127.0.0.1:6379"))
	f.clientStatus("127.0.0.1:6379", true)
	if evidence != nil {
		evidence(f, rt)
	}
	f.pings(100, 200e-6)
	clock.advance(10 * time.Second)
	return f.snapshot()
}

func TestRuleTailLatencySharedTail(t *testing.T) {
	s := one(t, tailRun(t, nil), RuleTailLatency)
	if s.Operation != "" {
		t.Fatalf("a shared tail names no single operation: %+v", s)
	}
	// The table has six operations: the message says why it judged five.
	wantMessage(t, s, "4 of the 5 operations with at least 100 calls", "1 with fewer calls was not judged", "The worst is", "40.0ms")
	for _, op := range []string{contract.OpGetLinkedPod.String(), contract.OpSetLinkedPod.String(), contract.OpGetLinkService.String(), contract.OpComputeLinkedPod.String()} {
		if _, ok := s.Evidence[key("p99_p50_ratio", contract.AttrOperation, op)]; !ok {
			t.Fatalf("no ratio for %s in %v", op, s.Evidence)
		}
	}
}

func TestRuleTailLatencyNamesTheCause(t *testing.T) {
	for _, c := range []struct {
		name    string
		record  func(f *fixture, rt *fakeRuntime)
		cause   string
		message []string
		want    map[string]float64
	}{
		{"healthy evidence", nil, CauseUnclear,
			[]string{"Cause unclear: no measured delays of at least 19.5ms", "0% of 100 PINGs took longer than 19.5ms", "no call waited for a pooled connection", "Look at the network"},
			map[string]float64{"cause.pool.calls_hit": 0, "cause.redis.pings_hit": 0}},
		{"CPU starvation", func(_ *fixture, rt *fakeRuntime) { rt.add(&rt.sched, 100, 0.03) }, CauseCPU,
			[]string{"Cause: CPU starvation: runnable goroutines waited more than 19.5ms for a CPU", "of 5100 scheduling events", "4.0 per call"},
			map[string]float64{"runtime.scheduling_latency.p99_seconds": 0}},
		{"loaded host", func(_ *fixture, rt *fakeRuntime) {
			rt.os = osRunQueue{waitSeconds: 20, timeslices: 2000, ok: true} // 10ms each
		}, CauseCPU,
			[]string{"Cause: CPU starvation: the operating system kept this process's threads waiting for a CPU 10.0ms per timeslice on average (20.0s over 2000 timeslices)"},
			map[string]float64{"runtime.os_run_queue.mean_wait_seconds": 0.01}},
		{"GC pauses", func(_ *fixture, rt *fakeRuntime) { rt.add(&rt.gc, 20, 0.025) }, CauseGC,
			[]string{"Cause: GC pauses in this process", "20 GC pauses longer than 19.5ms"},
			nil},
		{"small pool", func(f *fixture, _ *fakeRuntime) {
			f.pool(0, 0, 0, 50, 0, 50*0.03, semconv.DBClientConnectionPoolName("127.0.0.1:6379"))
		}, CausePool,
			[]string{"Cause: the connection pool: 50 waits for a pooled connection (4.8% of 1040 calls) averaged 30.0ms"},
			map[string]float64{"redis.pool.mean_wait_seconds": 0.03}},
		{"slow Redis", func(f *fixture, _ *fakeRuntime) { f.pings(5, 0.03) }, CauseRedis,
			[]string{"Cause: Redis or the network: 4.8% of 105 PINGs took longer than 19.5ms", "this process's own delays explain none of it"},
			nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := one(t, tailRun(t, c.record), RuleTailLatency)
			if s.Cause != c.cause {
				t.Fatalf("cause %q, want %q: %s", s.Cause, c.cause, s.Message)
			}
			wantMessage(t, s, c.message...)
			for k, v := range c.want {
				if v == 0 {
					if _, ok := s.Evidence[k]; !ok {
						t.Fatalf("no evidence %s in %v", k, s.Evidence)
					}
					continue
				}
				wantEvidence(t, s, k, v)
			}
			t.Log(s.Message)
		})
	}
}

func TestRuleBatchGetLinkedPod(t *testing.T) {
	run := func(single, batch int, window time.Duration) *Report {
		clock := &fakeClock{t: time.Now()}
		f := newFixture(t, WithClock(clock.now))
		f.calls(contract.OpGetLinkedPod.String(), single, 0.0003)
		f.calls(contract.OpBatchGetLinkedPod.String(), batch, 0.0005)
		clock.advance(window)
		return f.snapshot()
	}
	r := run(2000, 5, time.Second)
	s := one(t, r, RuleBatchGetLinkedPod)
	if s.Severity != SeverityInfo {
		t.Fatalf("severity %s", s.Severity)
	}
	wantEvidence(t, s, key(contract.MetricOperations, contract.AttrOperation, contract.OpGetLinkedPod.String()), 2000)
	wantEvidence(t, s, key(contract.MetricOperations, contract.AttrOperation, contract.OpBatchGetLinkedPod.String()), 5)
	wantEvidence(t, s, key("ops_per_sec", contract.AttrOperation, contract.OpGetLinkedPod.String()), r.Operation(contract.OpGetLinkedPod.String()).OpsPerSec)
	wantMessage(t, s, "2000 calls", "only 5")

	none(t, run(2000, 100, time.Second), RuleBatchGetLinkedPod) // batch is in use
	none(t, run(2000, 0, time.Minute), RuleBatchGetLinkedPod)   // 33 calls/s is not many
}
