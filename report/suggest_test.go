package report

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"slices"
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
	run := func(record func(f *fixture)) *Report {
		clock := &fakeClock{t: time.Now()}
		f := newFixture(t, WithClock(clock.now))
		f.calls(contract.OpGetLinkedPod.String(), 1000, 0.001)
		record(f)
		clock.advance(10 * time.Second)
		return f.snapshot()
	}
	// 4.2% of calls waited, though the pool is half free when the window
	// ends: the counts decide, not the gauge.
	s := one(t, run(func(f *fixture) { f.pool(10, 10, 20, 42, 0, 1.5) }), RulePoolExhaustion)
	if s.Severity != SeverityWarning {
		t.Fatalf("severity %s", s.Severity)
	}
	wantEvidence(t, s, contract.MetricPoolWaits, 42)
	wantMessage(t, s, "4.2% of calls waited", "42 waits", "35.7ms on average", "threshold 1.0%")
	// Twice 20 connections and 0.15 callers waiting on average.
	if s.Knob != "PoolSize" || s.Value != 41 {
		t.Fatalf("advice %s=%v, want PoolSize=41", s.Knob, s.Value)
	}

	s = one(t, run(func(f *fixture) { f.pool(3, 17, 20, 10, 2, 4) }), RulePoolExhaustion)
	if s.Severity != SeverityCritical {
		t.Fatalf("timeouts: severity %s, want critical", s.Severity)
	}
	wantEvidence(t, s, contract.MetricPoolTimeouts, 2)
	wantMessage(t, s, "2 gave up")

	none(t, run(func(f *fixture) { f.pool(20, 0, 20, 5, 0, 0.1) }), RulePoolExhaustion) // full now, 0.5% waited
	none(t, run(func(f *fixture) { f.pool(20, 0, 20, 0, 0, 0) }), RulePoolExhaustion)   // full, nobody waited

	// go-redis's pipeline pool is not sized by PoolSize: no value for it.
	s = one(t, run(func(f *fixture) {
		f.pool(2, 8, 10, 0, 0, 0, semconv.DBClientConnectionPoolName("127.0.0.1:6379"))
		f.pool(10, 0, 10, 40, 0, 0.8, semconv.DBClientConnectionPoolName("127.0.0.1:6379/pipeline"))
		f.clientStatus("127.0.0.1:6379", true)
	}), RulePoolExhaustion)
	wantMessage(t, s, "(127.0.0.1:6379/pipeline)", "apart from PoolSize")
	if s.Knob != "" {
		t.Fatalf("advice %s=%v for the pipeline pool", s.Knob, s.Value)
	}
}

func TestRuleScriptReloads(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	f := newFixture(t, WithClock(clock.now), WithWarmup(time.Minute))
	f.count(contract.MetricScriptCacheMisses, 7)
	f.count(contract.MetricScriptCacheReloads, 7) // first use of each script
	clock.advance(10 * time.Second)
	r := f.take()
	none(t, r.Report(), RuleScriptReloads) // warming up

	clock.advance(time.Minute)
	none(t, f.snapshot(), RuleScriptReloads) // warm-up reloads are expected

	f.count(contract.MetricScriptCacheMisses, 3)
	f.count(contract.MetricScriptCacheReloads, 3) // the cache was flushed
	clock.advance(time.Second)
	cur := f.take()
	s := one(t, cur.Report(), RuleScriptReloads)
	wantEvidence(t, s, "redis.script_cache.reloads_after_warmup", 3)
	wantEvidence(t, s, contract.MetricScriptCacheReloads, 10)
	wantMessage(t, s, "reloaded 3 times", "1m0s", "something flushed it")
	if s.Cause != CauseFlush {
		t.Fatalf("cause %q, want %q", s.Cause, CauseFlush)
	}

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
	f.calls(contract.OpSetLinkedPod.String(), 200, 0.001)
	for range 100 {
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
	// Within one bucket (2.2%) of the recorded 50ms.
	p99 := s.Evidence[key("p99_seconds", contract.AttrOperation, contract.OpComputeLinkedPod.String())]
	if relErr(p99, 0.05) > 0.022 {
		t.Fatalf("p99 %v, want about 50ms", p99)
	}
	wantMessage(t, s, "ComputeLinkedPod has a slow tail: p99 "+formatSeconds(p99)+" against p50 1.00ms over 200 calls", "10× and 10.0ms above")

	f = newFixture(t, WithTailRatioThreshold(60))
	f.calls(contract.OpComputeLinkedPod.String(), 196, 0.001)
	f.calls(contract.OpComputeLinkedPod.String(), 4, 0.05)
	none(t, f.snapshot(), RuleTailLatency)

	// A heartbeat: p99 50× p50, but half a millisecond is no finding.
	f = newFixture(t)
	f.calls(contract.OpSetLinkedPod.String(), 196, 20e-6)
	f.calls(contract.OpSetLinkedPod.String(), 4, 0.001)
	none(t, f.snapshot(), RuleTailLatency)
	f = newFixture(t, WithTailFloor(500*time.Microsecond))
	f.calls(contract.OpSetLinkedPod.String(), 196, 20e-6)
	f.calls(contract.OpSetLinkedPod.String(), 4, 0.001)
	one(t, f.snapshot(), RuleTailLatency)

	f = newFixture(t)
	f.calls(contract.OpComputeLinkedPod.String(), 146, 0.001) // too few calls to judge
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
	s := one(t, tailRun(t, func(f *fixture, _ *fakeRuntime) {
		f.calls(contract.OpGetLinkedPod.String(), 196, 0.001)
		f.calls(contract.OpGetLinkedPod.String(), 4, 0.04)
	}), RuleTailLatency)
	if s.Operation != "" {
		t.Fatalf("a shared tail names no single operation: %+v", s)
	}
	// The table has six operations: the message says why it judged five.
	// The busiest operation is named, not the one with the highest ratio.
	wantMessage(t, s, "4 of the 5 operations with at least 200 calls have a slow tail (1 with fewer calls was not judged)", "the busiest, GetLinkedPod, has p99 40.0ms")
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
			[]string{"Cause unclear: no measured delay of at least 19.5ms", "0% of 100 PINGs took longer than 19.5ms", "no call waited for a pooled connection", "Look at the network"},
			map[string]float64{"cause.pool.calls_hit": 0, "cause.redis.pings_hit": 0}},
		{"CPU starvation", func(_ *fixture, rt *fakeRuntime) { rt.add(&rt.sched, 100, 0.03) }, CauseCPU,
			[]string{"Cause: CPU starvation: goroutines ready to run waited more than 19.5ms for a CPU in 2.0% of scheduling events", "about 7.8% of calls", "Hint: give this process more CPU"},
			map[string]float64{"runtime.scheduling_latency.p99_seconds": 0}},
		{"loaded host", func(_ *fixture, rt *fakeRuntime) {
			rt.os = osRunQueue{waitSeconds: 20, timeslices: 2000, ok: true} // 10ms each
		}, CauseCPU,
			[]string{"Cause: CPU starvation: the operating system kept this process's threads waiting 10.0ms per timeslice on average"},
			map[string]float64{"runtime.os_run_queue.mean_wait_seconds": 0.01}},
		{"GC pauses", func(_ *fixture, rt *fakeRuntime) { rt.add(&rt.gc, 20, 0.025) }, CauseGC,
			[]string{"Cause: the garbage collector: 20 GC pauses longer than 19.5ms", "Hint: allocate less"},
			nil},
		{"GC CPU", func(_ *fixture, rt *fakeRuntime) {
			rt.gcWork = gcWork{cycles: 300, cpuSeconds: 4, busySeconds: 10, gogc: 10, liveBytes: 40 << 20, ok: true}
		}, CauseGC,
			[]string{"Cause: the garbage collector: the garbage collector ran 30 times a second and took 40% of this process's CPU", "GOGC=10 and 40.0 MiB live heap", "Set GOGC=100"},
			map[string]float64{"runtime.gc.cpu_share": 0.4}},
		{"small pool", func(f *fixture, _ *fakeRuntime) {
			f.pool(0, 0, 0, 50, 0, 50*0.03, semconv.DBClientConnectionPoolName("127.0.0.1:6379"))
		}, CausePool,
			[]string{"Cause: the connection pool: 50 waits for a pooled connection (4.8% of calls) averaged 30.0ms"},
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

func TestRuleConnectionDownNeedsFailingCalls(t *testing.T) {
	// A prober whose connection was cut shows down until its next probe,
	// while the calls, on connections of their own, succeed.
	f := newFixture(t)
	f.connection(false)
	f.calls(contract.OpGetLinkedPod.String(), 300, 0.001)
	none(t, f.snapshot(), RuleConnectionDown)
	for range 30 {
		f.call(contract.OpGetLinkedPod.String(), 0.001, contract.ErrorConnection.String())
	}
	one(t, f.snapshot(), RuleConnectionDown)
}

func TestRuleScriptReloadsAfterARestart(t *testing.T) {
	f := newFixture(t, WithWarmup(0))
	f.count(contract.MetricScriptCacheReloads, 2)
	f.count(contract.MetricPoolMisses, 8) // every connection dialed anew
	s := one(t, f.snapshot(), RuleScriptReloads)
	if s.Cause != CauseRestart {
		t.Fatalf("cause %q, want %q: %s", s.Cause, CauseRestart, s.Message)
	}
	wantMessage(t, s, "Redis restarted or failed over: the pools dialed 8 new connections")
}

func TestRuleGCPressure(t *testing.T) {
	run := func(share float64) *Report {
		clock := &fakeClock{t: time.Now()}
		rt := &fakeRuntime{}
		f := newFixture(t, WithClock(clock.now), withRuntime(rt.read))
		rt.gcWork = gcWork{cycles: 300, cpuSeconds: share * 10, busySeconds: 10, gogc: 25, liveBytes: 40 << 20, ok: true}
		f.calls(contract.OpGetLinkedPod.String(), 10, 0.001) // the window starts
		clock.advance(10 * time.Second)
		return f.snapshot()
	}
	s := one(t, run(0.3), RuleGCPressure)
	// GC CPU falls as GOGC rises: 25 × 30% / 5%, rounded up to a hundred.
	if s.Knob != "GOGC" || s.Value != 200 {
		t.Fatalf("advice %s=%v, want GOGC=200", s.Knob, s.Value)
	}
	wantMessage(t, s, "30 times a second", "took 30% of this process's CPU (threshold 20%)", "GOGC=25", "Set GOGC=200", "88% fewer collections", "120 MiB")
	none(t, run(0.05), RuleGCPressure)
}

func TestRuleSlowRoundTrip(t *testing.T) {
	run := func(commands map[string]int, seconds float64) *Report {
		rt := &fakeRuntime{}
		rt.add(&rt.sched, 1000, 20e-6)
		f := newFixture(t, withRuntime(rt.read))
		f.commands(commands, seconds)
		return f.snapshot()
	}
	// Spread from 0.4 to 4ms: the median command takes about 2ms.
	s := one(t, run(map[string]int{"GET": 300}, 0.0004), RuleSlowRoundTrip)
	wantMessage(t, s, "Every Redis round trip is slow: the median command took", "threshold 1.00ms", "Redis or the network")
	none(t, run(map[string]int{"GET": 300}, 0.0001), RuleSlowRoundTrip)
	// Connection handshakes take a dial's time, not a command's.
	none(t, run(map[string]int{"HELLO": 300, "GET": 300}, 0.0001), RuleSlowRoundTrip)
	none(t, run(map[string]int{"HELLO": 300}, 0.01), RuleSlowRoundTrip)
	// Pipelined (go-redis sends AUTH, SELECT, CLIENT SETNAME in one), too;
	// a pipeline of real commands is judged.
	none(t, run(map[string]int{"PIPELINE SELECT": 100, "PIPELINE AUTH": 100, "CLIENT": 100}, 0.01), RuleSlowRoundTrip)
	one(t, run(map[string]int{"PIPELINE GET": 300}, 0.0004), RuleSlowRoundTrip)
}

// TestSetupCommands: one definition decides for the process's and the
// fleet's command names alike.
func TestSetupCommands(t *testing.T) {
	for name, want := range map[string]bool{
		"HELLO": true, "AUTH": true, "SELECT": true, "CLIENT": true, "PIPELINE HELLO": true, "PIPELINE CLIENT": true,
		"GET": false, "PIPELINE GET": false, "PIPELINE": false, "MULTI SELECT": false, OtherCommand: false,
	} {
		if got := setupCommand(name); got != want {
			t.Errorf("setupCommand(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestRuleStateCache(t *testing.T) {
	// A quiet runtime: this process's own CPU waits under a loaded test
	// run would keep the rule silent.
	quiet := withRuntime((&fakeRuntime{}).read)
	run := func(compute float64) *Report {
		f := newFixture(t, quiet)
		f.calls(contract.OpGetLinkedPod.String(), 300, 0.0002)
		f.calls(contract.OpComputeLinkedPod.String(), 300, compute)
		return f.snapshot()
	}
	s := one(t, run(0.002), RuleStateCache)
	if s.Knob != "WithStateCache" || s.Value != 1 || s.Operation != contract.OpComputeLinkedPod.String() {
		t.Fatalf("%+v", s)
	}
	wantMessage(t, s, "ComputeLinkedPod reads large pod states: its median 2.00ms is 10× GetLinkedPod's 200µs")
	none(t, run(0.0006), RuleStateCache) // three round trips, 3×

	// A service of 3000 pods is direct evidence: half the ratio suffices,
	// as when shared round trips slow GetLinkedPod too.
	large := func(compute float64, pods int64) *Report {
		f := newFixture(t, quiet)
		f.calls(contract.OpGetLinkedPod.String(), 300, 0.0005)
		f.calls(contract.OpComputeLinkedPod.String(), 300, compute)
		g, err := f.meterFor(contract.MetricPods).Int64Gauge(contract.MetricPods)
		if err != nil {
			t.Fatal(err)
		}
		g.Record(t.Context(), pods, metric.WithAttributes(attribute.String(contract.AttrNamespace, "ns"), attribute.String(contract.AttrService, "match"), attribute.String(contract.AttrPodState, contract.PodLive)))
		return f.snapshot()
	}
	s = one(t, large(0.0015, 3000), RuleStateCache)
	wantMessage(t, s, "every call reads the states of match in ns's 3000 pods")
	if s.Evidence["stateful_executor.pods{namespace=ns,service=match,state=live}"] != 3000 {
		t.Fatalf("evidence %v", s.Evidence)
	}
	none(t, large(0.0015, 8), RuleStateCache)    // 3× with few pods
	none(t, large(0.0009, 3000), RuleStateCache) // under 2×
}

// TestCausesBeforeSymptoms: a cause outranks a symptom of the same
// severity that weighs more. The large scripts make the median command slow
// (slow_round_trip, weight 0.1), and ComputeLinkedPod, 5% of the calls,
// reads the states that make them slow: state_cache comes first.
func TestCausesBeforeSymptoms(t *testing.T) {
	f := newFixture(t, withRuntime((&fakeRuntime{}).read))
	f.calls(contract.OpGetLinkedPod.String(), 3800, 0.0003)
	f.calls(contract.OpComputeLinkedPod.String(), 200, 0.003)
	f.commands(map[string]int{"EVALSHA": 4000}, 0.002)
	r := f.snapshot()
	got := ids(r)
	if len(got) < 2 || got[0] != RuleStateCache || !slices.Contains(got, RuleSlowRoundTrip) {
		t.Fatalf("findings %v, want state_cache first and slow_round_trip among them", got)
	}
	if w := r.Suggestions[slices.Index(got, RuleSlowRoundTrip)].weight; w <= r.Suggestions[0].weight {
		t.Fatalf("slow_round_trip weighs %v, state_cache %v: the test needs the symptom heavier", w, r.Suggestions[0].weight)
	}
}
