package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/statefulroute/sfotel/internal/contract"
)

// Rule identifiers, the id field of a Suggestion.
const (
	RuleConnectionDown    = "connection_down"
	RulePoolExhaustion    = "pool_exhaustion"
	RuleScriptReloads     = "script_reloads"
	RuleErrorRate         = "error_rate"
	RuleInvalidInput      = "invalid_input"
	RuleTailLatency       = "tail_latency"
	RuleGCPressure        = "gc_pressure"
	RuleSlowRoundTrip     = "slow_round_trip"
	RuleStateCache        = "state_cache"
	RuleBatchGetLinkedPod = "batch_get_linked_pod"
)

// A rule judges a report and returns its findings, none when it passes. It
// reads the report's numbers and its Thresholds and nothing else; suggest
// sets each finding's ID and orders them by severity, then causes before
// symptoms, then by weight (the share of calls a finding concerns), then
// as here. Adding a rule is one
// entry here plus its function and a scenario of internal/diagnose
// (docs/report.md, "Adding a rule").
type rule struct {
	id    string
	judge func(view) []Suggestion
}

// view is what a rule judges: the report, and the raw data behind it for
// the distributions the report only summarizes.
type view struct {
	*Report
	raw *rawData
}

// symptoms are the rules that see slow calls, not why they are slow: any
// other finding of the same severity names more (a service of thousands
// of pods that slows the round trips, users held on dead pods while the
// tail is long) and comes first.
var symptoms = map[string]int{RuleTailLatency: 1, RuleSlowRoundTrip: 1}

var rules = []rule{
	{RuleConnectionDown, connectionDown},
	{RulePoolExhaustion, poolExhaustion},
	{RuleScriptReloads, scriptReloads},
	{RuleErrorRate, errorRate},
	{RuleInvalidInput, invalidInput},
	{RuleTailLatency, tailLatency},
	{RuleGCPressure, gcPressure},
	{RuleSlowRoundTrip, slowRoundTrip},
	{RuleStateCache, stateCache},
	{RuleBatchGetLinkedPod, batchGetLinkedPod},
	{RuleNoLivePod, routed(noLivePod)}, {RuleHeldOnDeadPods, routed(heldOnDeadPods)}, {RuleLoadSpread, routed(loadSpread)}, {RuleLinksMoved, routed(linksMoved)},
}

const (
	// criticalErrorRateTimes makes error_rate critical at ten times its
	// threshold.
	criticalErrorRateTimes = 10
	// failureWeight: a failed call weighs as much as this many slow ones
	// when findings are ordered.
	failureWeight = 10
	// restartDials: script reloads with at least this many new connections
	// in the window, and half the pool's, were a restart or a failover,
	// not a flush.
	restartDials = 2
	// poolWaitShare: pool_exhaustion fires when this share of calls waited
	// for a connection.
	poolWaitShare = 0.01
	// stateCacheRatio: state_cache fires when ComputeLinkedPod's median is
	// this many times GetLinkedPod's: reading the pod states dominates it.
	stateCacheRatio = 4
	// stateCachePods: a service with this many pods makes every
	// ComputeLinkedPod read that many states.
	stateCachePods = 1000
)

// suggest applies every rule to r and the raw data it was built from. The
// result is never nil, so that JSON shows an empty list rather than null.
func suggest(r *Report, raw *rawData) []Suggestion {
	out := []Suggestion{}
	for _, ru := range rules {
		for _, s := range ru.judge(view{r, raw}) {
			s.ID = ru.id
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b Suggestion) int {
		return cmp.Or(
			cmp.Compare(severityRank(b.Severity), severityRank(a.Severity)),
			cmp.Compare(symptoms[a.ID], symptoms[b.ID]),
			cmp.Compare(b.weight, a.weight))
	})
	return out
}

func severityRank(s Severity) int {
	return slices.Index([]Severity{SeverityInfo, SeverityWarning, SeverityCritical}, s)
}

// calls is the number of calls of every operation, and of failed ones.
func (r *Report) calls() (n, failed uint64) {
	for i := range r.Operations {
		n, failed = n+r.Operations[i].Count, failed+r.Operations[i].Errors
	}
	return n, failed
}

// judged reports whether op has enough calls for the rate and latency rules.
func (r *Report) judged(op *Operation) bool { return op.Count >= r.Thresholds.MinSamples }

// clientAttrs are the attributes that name a client in evidence keys.
func clientAttrs(c *Client) []string {
	var kv []string
	if c.Instance != "" {
		kv = append(kv, "instance", c.Instance)
	}
	if c.Name != "" {
		kv = append(kv, contract.AttrPoolName, c.Name)
	}
	return kv
}

// clientLabel names a client in a message: "" for the only, unnamed one.
func clientLabel(c *Client) string {
	switch {
	case c.Instance != "" && c.Name != "":
		return c.Name + " on " + c.Instance
	case c.Instance != "":
		return c.Instance
	}
	return c.Name
}

// ofClient is of followed by the client's label, "" for the only, unnamed
// client.
func ofClient(c *Client, of string) string {
	if l := clientLabel(c); l != "" {
		return of + l
	}
	return ""
}

// connectionDown fires per client whose status is down at the end of the
// window, unless the window's calls say otherwise: a prober whose
// connection was cut shows down until its next probe while the calls, on
// connections of their own, succeed.
func connectionDown(r view) []Suggestion {
	calls, errs := r.calls()
	if calls > 0 && ratio(errs, calls) <= r.Thresholds.ErrorRate {
		return nil
	}
	var out []Suggestion
	for i := range r.Redis.Clients {
		c := &r.Redis.Clients[i]
		if c.ConnectionUp == nil || *c.ConnectionUp {
			continue
		}
		out = append(out, Suggestion{
			Severity: SeverityCritical,
			weight:   failureWeight,
			Message:  "Redis connection" + ofClient(c, " of client ") + " is down: its calls fail until it is back. Check that Redis is reachable from this process (address, network, TLS, credentials).",
			Evidence: map[string]float64{
				key(contract.MetricConnectionStatus, append(clientAttrs(c), contract.AttrStatus, contract.StatusUp)...): 0,
			},
		})
	}
	return out
}

// poolExhaustion fires per client whose calls waited for a connection: on
// timeouts, or when the waits reached poolWaitShare of the calls. The
// counts decide, not the in-use gauge, which is read at the end of the
// window and misses a pool that was full in between.
func poolExhaustion(r view) []Suggestion {
	calls, _ := r.calls()
	var out []Suggestion
	for i := range r.Redis.Clients {
		c := &r.Redis.Clients[i]
		p := &c.Pool
		share := ratio(p.Waits, calls)
		if p.Timeouts == 0 && (calls == 0 || share < poolWaitShare) {
			continue
		}
		// The pool that made callers wait is the one to size.
		w := highest(c.Pools, func(p *Pool) (float64, bool) { return float64(p.Waits), p.Waits > 0 })
		sized := cmp.Or(w, p)
		kv := clientAttrs(c)
		s := Suggestion{
			Severity: SeverityWarning,
			weight:   share,
			Evidence: map[string]float64{
				key(contract.MetricPoolWaits, kv...):    float64(p.Waits),
				key(contract.MetricPoolTimeouts, kv...): float64(p.Timeouts),
				key(contract.MetricPoolWaitTime, kv...): p.WaitSeconds,
				key("redis.pool.max", kv...):            float64(sized.Max),
			},
		}
		pool := "The connection pool" + ofClient(c, " of ")
		if w != nil && w.Name != c.Name {
			pool += " (" + w.Name + ")"
		}
		s.Message = fmt.Sprintf("%s is too small: %s of calls waited for a connection (%d waits, %s on average, threshold %s)",
			pool, formatPercent(share), p.Waits, formatSeconds(p.WaitSeconds/float64(max(p.Waits, 1))), formatPercent(poolWaitShare))
		if p.Timeouts > 0 {
			s.Severity, s.weight = SeverityCritical, failureWeight*ratio(p.Timeouts, max(calls, 1))
			s.Message += fmt.Sprintf(" and %d gave up (pool timeout)", p.Timeouts)
		}
		if w != nil && strings.HasSuffix(w.Name, "/pipeline") {
			s.Message += ". The pipeline pool waited: go-redis sizes it apart from PoolSize; fewer concurrent pipelines help."
		} else if poolAdvice(r, sized) > 0 {
			s.Knob, s.Value = "PoolSize", float64(poolAdvice(r, sized))
			s.Message += fmt.Sprintf(". Set PoolSize to %.0f: twice the %d connections plus the %.1f callers waiting for them on average.",
				s.Value, sized.Max, sized.WaitSeconds/max(r.Window.Seconds, 1e-9))
		} else {
			s.Message += ". Raise PoolSize or lower the concurrency."
		}
		out = append(out, s)
	}
	return out
}

// poolWaited reports whether pool_exhaustion's threshold of waits was met.
func poolWaited(r view) bool {
	calls, _ := r.calls()
	return calls > 0 && ratio(r.Redis.Pool.Waits, calls) >= poolWaitShare
}

// highest is the first element of s with the highest value among those
// that have one (ok), nil if none has.
func highest[T any](s []T, value func(*T) (v float64, ok bool)) *T {
	var best *T
	var top float64
	for i := range s {
		if v, ok := value(&s[i]); ok && (best == nil || v > top) {
			best, top = &s[i], v
		}
	}
	return best
}

// poolAdvice is the pool size that would have served the window's demand:
// twice the connections there were plus the callers waiting for them on
// average (wait time over the window, Little's law): the average hides
// the bursts that made callers wait. 0 when the pool's size is unknown.
func poolAdvice(r view, p *Pool) int {
	if p.Max <= 0 || r.Window.Seconds <= 0 {
		return 0
	}
	waiting := p.WaitSeconds / r.Window.Seconds
	return int(math.Ceil(2 * (float64(p.Max) + waiting)))
}

func scriptReloads(r view) []Suggestion {
	sc := &r.Redis.ScriptCache
	if sc.WarmingUp || sc.ReloadsAfterWarmup == 0 {
		return nil
	}
	calls, _ := r.calls()
	// A restart or a failover also drops every connection: the pools dial
	// anew. A flush leaves them be.
	cause, what := CauseFlush, "something flushed it (SCRIPT FLUSH, FLUSHALL) while the connections stayed up. Hint: find what flushes the cache."
	if p := &r.Redis.Pool; p.Misses >= max(restartDials, uint64(p.InUse+p.Idle)/2) {
		cause, what = CauseRestart, fmt.Sprintf("Redis restarted or failed over: the pools dialed %d new connections in the window. Hint: check Redis's uptime and its failover events.", r.Redis.Pool.Misses)
	}
	return []Suggestion{{
		Severity: SeverityWarning,
		Cause:    cause,
		weight:   ratio(sc.Misses, max(calls, 1)),
		Message: fmt.Sprintf("Redis lost its script cache: Lua scripts were reloaded %d times after the warm-up (%s), each after a NOSCRIPT round trip; %s",
			sc.ReloadsAfterWarmup, time.Duration(r.Thresholds.WarmupSeconds*float64(time.Second)), what),
		Evidence: map[string]float64{
			contract.MetricScriptCacheReloads:         float64(sc.Reloads),
			contract.MetricScriptCacheMisses:          float64(sc.Misses),
			"redis.script_cache.reloads_after_warmup": float64(sc.ReloadsAfterWarmup),
		},
	}}
}

// errorRate judges failures that are not the caller's fault: rejected input
// never reached Redis and has its own rule.
func errorRate(r view) []Suggestion {
	var out []Suggestion
	for i := range r.Operations {
		op := &r.Operations[i]
		invalid := op.ErrorsByType[contract.ErrorInvalidArgument.String()]
		failed := op.Errors - min(invalid, op.Errors)
		if !r.judged(op) || failed == 0 {
			continue
		}
		rate := float64(failed) / float64(op.Count)
		if rate <= r.Thresholds.ErrorRate {
			continue
		}
		top, topN := topErrorType(op.ErrorsByType)
		s := Suggestion{
			Severity:  SeverityWarning,
			Operation: op.Name,
			weight:    failureWeight * rate,
			Evidence: map[string]float64{
				key(contract.MetricOperations, contract.AttrOperation, op.Name): float64(op.Count),
				key(contract.MetricErrors, contract.AttrOperation, op.Name):     float64(op.Errors),
				key("error_rate", contract.AttrOperation, op.Name):              rate,
			},
		}
		if invalid > 0 {
			s.Evidence[key(contract.MetricErrors, contract.AttrOperation, op.Name, contract.AttrErrorType, contract.ErrorInvalidArgument.String())] = float64(invalid)
		}
		if rate >= criticalErrorRateTimes*r.Thresholds.ErrorRate {
			s.Severity = SeverityCritical
		}
		s.Message = fmt.Sprintf("%s: %s of %d calls failed (%d errors, threshold %s)",
			op.Name, formatPercent(rate), op.Count, failed, formatPercent(r.Thresholds.ErrorRate))
		if top != "" {
			s.Evidence[key(contract.MetricErrors, contract.AttrOperation, op.Name, contract.AttrErrorType, top)] = float64(topN)
			s.Message += fmt.Sprintf("; most were %s (%d). %s", top, topN, errorAdvice(top))
		} else {
			s.Message += "."
		}
		out = append(out, s)
	}
	return out
}

// topErrorType is the most frequent error type other than invalid input;
// ties go to the name that sorts first.
func topErrorType(byType map[string]uint64) (string, uint64) {
	var top string
	var topN uint64
	for t, n := range byType {
		if t == contract.ErrorInvalidArgument.String() || n == 0 {
			continue
		}
		if n > topN || (n == topN && t < top) {
			top, topN = t, n
		}
	}
	return top, topN
}

func errorAdvice(errorType string) string {
	switch errorType {
	case contract.ErrorTimeout.String(), contract.ErrorUnavailable.String():
		return "Redis answered too slowly: check its latency (SLOWLOG, CPU) and the client read/write timeouts."
	case contract.ErrorConnection.String():
		return "Connections to Redis failed: check reachability and the connection status."
	case contract.ErrorCanceled.String():
		return "Callers canceled their contexts before Redis answered: their deadlines may be too short."
	case contract.ErrorNoScript.String():
		return "Scripts were missing on the server: something flushes the script cache."
	case contract.ErrorPoolTimeout.String():
		return "Callers timed out waiting for a pooled connection: raise PoolSize or PoolTimeout, or lower the concurrency."
	case contract.ErrorOutcomeUnknown.String():
		return "Writes lost their reply and may have reached Redis, so their outcome is unknown: callers must read the link back."
	}
	return "See the spans with error status for the causes."
}

func invalidInput(r view) []Suggestion {
	var out []Suggestion
	for i := range r.Operations {
		op := &r.Operations[i]
		n := op.ErrorsByType[contract.ErrorInvalidArgument.String()]
		if n == 0 {
			continue
		}
		out = append(out, Suggestion{
			Severity:  SeverityInfo,
			Operation: op.Name,
			Message: fmt.Sprintf("%s: %d of %d calls (%s) were rejected as invalid input before reaching Redis. A caller sends bad arguments; the error names the field, and the spans carry error.type=%s.",
				op.Name, n, op.Count, formatPercent(ratio(n, op.Count)), contract.ErrorInvalidArgument.String()),
			Evidence: map[string]float64{
				key(contract.MetricErrors, contract.AttrOperation, op.Name, contract.AttrErrorType, contract.ErrorInvalidArgument.String()): float64(n),
				key(contract.MetricOperations, contract.AttrOperation, op.Name):                                                             float64(op.Count),
			},
		})
	}
	return out
}

// Tail findings are merged into one when at least this many operations, and
// at least half of those judged, have a slow tail: the cause is then shared,
// and one finding says so better than one per operation.
const sharedTailMin = 3

// slowTail reports whether op's tail is a finding: p99 at least the ratio
// times p50 and the floor above it. A ratio alone fires on a heartbeat
// whose p99 is half a millisecond.
func (r *Report) slowTail(op *Operation) bool {
	return op.P50Seconds > 0 && op.P99Seconds >= r.Thresholds.TailRatio*op.P50Seconds &&
		op.P99Seconds-op.P50Seconds >= r.Thresholds.TailFloor
}

// tailLatency fires for each judged operation with a slow tail, or once for
// a tail most operations share. Each finding names its cause (cause.go).
func tailLatency(r view) []Suggestion {
	var tails []*Operation
	judged, skipped := 0, 0
	for i := range r.Operations {
		op := &r.Operations[i]
		switch {
		case !r.judged(op):
			if op.Count > 0 {
				skipped++
			}
		case op.P50Seconds > 0:
			judged++
			if r.slowTail(op) {
				tails = append(tails, op)
			}
		}
	}
	if len(tails) >= sharedTailMin && 2*len(tails) >= judged {
		return []Suggestion{sharedTail(r, tails, judged, skipped)}
	}
	out := make([]Suggestion, 0, len(tails))
	for _, op := range tails {
		s := tailFinding(op)
		s.Operation = op.Name
		s.Message = fmt.Sprintf("%s has a slow tail: p99 %s against p50 %s over %d calls (thresholds %.0f× and %s above).",
			op.Name, formatSeconds(op.P99Seconds), formatSeconds(op.P50Seconds), op.Count, r.Thresholds.TailRatio, formatSeconds(r.Thresholds.TailFloor))
		diagnose(r, op.P50Seconds, op.P99Seconds, &s, "slow commands (SLOWLOG) or big keys of this operation")
		out = append(out, s)
	}
	return out
}

// sharedTail merges the tails into one finding named after the busiest of
// them (the hot path, not the rarest call) with the cause.
func sharedTail(r view, tails []*Operation, judged, skipped int) Suggestion {
	worst := *highest(tails, func(op **Operation) (float64, bool) { return float64((*op).Count), true })
	s := tailFinding(worst)
	s.Message = fmt.Sprintf("%d of the %d operations with at least %d calls have a slow tail", len(tails), judged, r.Thresholds.MinSamples)
	if skipped > 0 {
		s.Message += fmt.Sprintf(" (%d with fewer calls %s not judged)", skipped, plural(skipped, "was", "were"))
	}
	s.Message += fmt.Sprintf("; the busiest, %s, has p99 %s against p50 %s (thresholds %.0f× and %s above).",
		worst.Name, formatSeconds(worst.P99Seconds), formatSeconds(worst.P50Seconds), r.Thresholds.TailRatio, formatSeconds(r.Thresholds.TailFloor))
	diagnose(r, worst.P50Seconds, worst.P99Seconds, &s, "the network, or Redis commands slower than PING (SLOWLOG)")
	return s
}

// tailFinding is a tail_latency finding that cites op's p50 and p99.
func tailFinding(op *Operation) Suggestion {
	return Suggestion{Severity: SeverityWarning, Evidence: map[string]float64{
		key("p50_seconds", contract.AttrOperation, op.Name): op.P50Seconds,
		key("p99_seconds", contract.AttrOperation, op.Name): op.P99Seconds,
	}}
}

// gcPressure fires when the garbage collector takes gcHeavyShare of the
// process's CPU, slow tail or not: that CPU is taken from the calls.
func gcPressure(r view) []Suggestion {
	g := heavyGC(r)
	if g == nil {
		return nil
	}
	v := gogcAdvice(g)
	return []Suggestion{{
		Severity: SeverityWarning,
		weight:   g.CPUShare,
		Knob:     "GOGC",
		Value:    v,
		Message:  "Garbage collection is too frequent: " + gcText(g) + ". " + gogcText(g, v),
		Evidence: map[string]float64{
			"runtime.gc.cpu_share":         g.CPUShare,
			"runtime.gc.cycles_per_second": g.CyclesPerSecond,
		},
	}}
}

// slowRoundTrip fires when the median Redis command (connection handshakes
// aside) takes the threshold or more: every call pays it, a slowdown that
// leaves p99/p50 alone. This process's own CPU waits are ruled out first.
func slowRoundTrip(r view) []Suggestion {
	h, n := commandLatencies(r.raw)
	if n < r.Thresholds.MinSamples {
		return nil
	}
	p50 := nanos(h.quantile(0.5))
	if p50 < r.Thresholds.RoundTrip || poolWaited(r) {
		return nil // a command's time includes its wait for a connection
	}
	s := Suggestion{
		Severity: SeverityWarning,
		// Every call, but slower rather than failed or stalled, and often
		// the effect of a cause another rule names (a saturated Redis).
		weight:   0.1,
		Evidence: map[string]float64{"redis.commands.p50_seconds": p50},
	}
	s.Message = fmt.Sprintf("Every Redis round trip is slow: the median command took %s (threshold %s) over %d commands", formatSeconds(p50), formatSeconds(r.Thresholds.RoundTrip), n)
	if rt := r.Runtime; rt != nil && rt.SchedulingLatency.Count > 0 {
		if rt.SchedulingLatency.P99Seconds >= p50/2 {
			return nil // this process's CPU waits could make it
		}
		s.Message += fmt.Sprintf(", while this process's goroutines waited at most %s for a CPU (p99)", formatSeconds(rt.SchedulingLatency.P99Seconds))
		s.Evidence["runtime.scheduling_latency.p99_seconds"] = rt.SchedulingLatency.P99Seconds
	} else {
		s.Message += " (this report has no Go runtime evidence, so a process short of CPU would look the same)"
	}
	if pg := r.Redis.Ping; pg != nil && pg.Count > 0 {
		s.Message += fmt.Sprintf("; PING p50 %s", formatSeconds(pg.P50Seconds))
	}
	s.Message += ". Redis or the network: the report cannot tell which. Hint: compare with redis-cli --latency from this host; move the router nearer Redis, or make fewer round trips (BatchGetLinkedPod; for many concurrent callers, keep otelexec.WithAutoPipelining on, its default)."
	return []Suggestion{s}
}

// stateCache fires when ComputeLinkedPod is dominated by reading the pod
// states and the executor has no state cache: its median at least the
// round-trip threshold and stateCacheRatio times GetLinkedPod's, or half
// that when a service has stateCachePods pods or more. The pod count is
// direct evidence of what each call reads; it keeps the rule firm when
// shared round trips (autopipelining) or CPU waits narrow the ratio.
func stateCache(r view) []Suggestion {
	compute, get := r.Operation(contract.OpComputeLinkedPod.String()), r.Operation(contract.OpGetLinkedPod.String())
	if r.Redis.StateCache != nil || compute == nil || get == nil || !r.judged(compute) || get.Count < 10 ||
		compute.P50Seconds < r.Thresholds.RoundTrip {
		return nil
	}
	var most *RoutingService
	if rt := r.Routing; rt != nil {
		most = highest(rt.Services, func(sv *RoutingService) (float64, bool) { return float64(sv.LivePods + sv.StalePods), true })
	}
	large := most != nil && most.LivePods+most.StalePods >= stateCachePods
	times := compute.P50Seconds / get.P50Seconds
	if times < stateCacheRatio && (!large || times < stateCacheRatio/2) {
		return nil
	}
	if rt := r.Runtime; !large && rt != nil && rt.SchedulingLatency.P99Seconds >= compute.P50Seconds/2 {
		return nil // its three round trips wait for the CPU three times
	}
	calls, _ := r.calls()
	s := Suggestion{
		Severity:  SeverityWarning,
		Operation: compute.Name,
		weight:    ratio(compute.Count, calls),
		Knob:      "WithStateCache",
		Value:     1,
		Message: fmt.Sprintf("%s reads large pod states: its median %s is %.0f× GetLinkedPod's %s (threshold %d×), over %d calls",
			compute.Name, formatSeconds(compute.P50Seconds), times, formatSeconds(get.P50Seconds), stateCacheRatio, compute.Count),
		Evidence: map[string]float64{
			key("p50_seconds", contract.AttrOperation, compute.Name): compute.P50Seconds,
			key("p50_seconds", contract.AttrOperation, get.Name):     get.P50Seconds,
		},
	}
	if large {
		s.Message += fmt.Sprintf("; every call reads the states of %s's %d pods (%d or more: half the ratio suffices)", most.name(), most.LivePods+most.StalePods, stateCachePods)
		most.podsEvidence(s.Evidence)
	}
	s.Message += "; and the executor has no state cache. Set otelexec.WithStateCache(time.Second) (shorter than the aliveWithin you pass): the states are read once a second per service instead of on every call."
	return []Suggestion{s}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func batchGetLinkedPod(r view) []Suggestion {
	single := r.Operation(contract.OpGetLinkedPod.String())
	if single == nil || !r.judged(single) || single.OpsPerSec < r.Thresholds.BatchHintRate {
		return nil
	}
	var batched uint64
	if b := r.Operation(contract.OpBatchGetLinkedPod.String()); b != nil {
		batched = b.Count
	}
	if float64(batched) >= r.Thresholds.BatchHintShare*float64(single.Count) {
		return nil
	}
	return []Suggestion{{
		Severity:  SeverityInfo,
		Operation: contract.OpGetLinkedPod.String(),
		Message: fmt.Sprintf("%s ran %.0f calls/s (%d calls) and %s only %d: where a caller looks up many users at once, one %s call answers them in one round trip.",
			contract.OpGetLinkedPod.String(), single.OpsPerSec, single.Count, contract.OpBatchGetLinkedPod.String(), batched, contract.OpBatchGetLinkedPod.String()),
		Evidence: map[string]float64{
			key("ops_per_sec", contract.AttrOperation, contract.OpGetLinkedPod.String()):                  single.OpsPerSec,
			key(contract.MetricOperations, contract.AttrOperation, contract.OpGetLinkedPod.String()):      float64(single.Count),
			key(contract.MetricOperations, contract.AttrOperation, contract.OpBatchGetLinkedPod.String()): float64(batched),
		},
	}}
}

// key names a metric with attributes the way evidence cites it:
// name{k1=v1,k2=v2}; a bare name without attributes.
func key(name string, kv ...string) string {
	if len(kv) < 2 {
		return name
	}
	pairs := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, kv[i]+"="+kv[i+1])
	}
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// formatPercent renders a ratio as a percentage with sensible precision,
// never rounding a share below 100% up to 100%.
func formatPercent(r float64) string {
	p := r * 100
	digits := 0
	switch {
	case p == 0:
		return "0%"
	case p < 1:
		digits = 2
	case p < 10:
		digits = 1
	}
	for p < 100 && digits < 4 && strconv.FormatFloat(p, 'f', digits, 64) == strconv.FormatFloat(100, 'f', digits, 64) {
		digits++
	}
	return strconv.FormatFloat(p, 'f', digits, 64) + "%"
}
