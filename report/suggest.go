package report

import (
	"cmp"
	"fmt"
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
	RuleBatchGetLinkedPod = "batch_get_linked_pod"
)

// A rule judges a report and returns its findings, none when it passes. It
// reads the report's numbers and its Thresholds and nothing else; suggest
// sets each finding's ID. Adding a rule is one entry here plus its function
// (docs/report.md, "Adding a rule").
type rule struct {
	id    string
	judge func(*Report) []Suggestion
}

var rules = []rule{
	{RuleConnectionDown, connectionDown},
	{RulePoolExhaustion, poolExhaustion},
	{RuleScriptReloads, scriptReloads},
	{RuleErrorRate, errorRate},
	{RuleInvalidInput, invalidInput},
	{RuleTailLatency, tailLatency},
	{RuleBatchGetLinkedPod, batchGetLinkedPod},
}

// criticalErrorRateTimes makes error_rate critical at ten times its threshold.
const criticalErrorRateTimes = 10

// suggest applies every rule to r. The result is never nil, so that JSON
// shows an empty list rather than null.
func suggest(r *Report) []Suggestion {
	out := []Suggestion{}
	for _, ru := range rules {
		for _, s := range ru.judge(r) {
			s.ID = ru.id
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b Suggestion) int {
		return cmp.Or(
			cmp.Compare(severityRank(b.Severity), severityRank(a.Severity)),
			cmp.Compare(a.ID, b.ID),
			cmp.Compare(a.Operation, b.Operation))
	})
	return out
}

func severityRank(s Severity) int {
	switch s {
	case SeverityCritical:
		return 2
	case SeverityWarning:
		return 1
	}
	return 0
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
		kv = append(kv, string(keyPoolName), c.Name)
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

func connectionDown(r *Report) []Suggestion {
	var out []Suggestion
	for i := range r.Redis.Clients {
		c := &r.Redis.Clients[i]
		if c.ConnectionUp == nil || *c.ConnectionUp {
			continue
		}
		what := "Redis connection is down"
		if l := clientLabel(c); l != "" {
			what = "Redis connection of client " + l + " is down"
		}
		out = append(out, Suggestion{
			Severity: SeverityCritical,
			Message:  what + ": its calls fail until it is back. Check that Redis is reachable from this process (address, network, TLS, credentials).",
			Evidence: map[string]float64{
				key(contract.MetricConnectionStatus, append(clientAttrs(c), contract.AttrStatus, contract.StatusUp)...): 0,
			},
		})
	}
	return out
}

func poolExhaustion(r *Report) []Suggestion {
	var out []Suggestion
	for i := range r.Redis.Clients {
		c := &r.Redis.Clients[i]
		p := &c.Pool
		nearFull := p.Utilization >= r.Thresholds.PoolUtilization
		if p.Timeouts == 0 && (p.Waits == 0 || !nearFull) {
			continue
		}
		kv := clientAttrs(c)
		s := Suggestion{
			Severity: SeverityWarning,
			Evidence: map[string]float64{
				key(contract.MetricPoolWaits, kv...):    float64(p.Waits),
				key(contract.MetricPoolTimeouts, kv...): float64(p.Timeouts),
				key(contract.MetricPoolWaitTime, kv...): p.WaitSeconds,
				key("redis.pool.in_use", kv...):         float64(p.InUse),
				key("redis.pool.max", kv...):            float64(p.Max),
				key("redis.pool.utilization", kv...):    p.Utilization,
			},
		}
		pool := "Connection pool"
		if l := clientLabel(c); l != "" {
			pool = "Connection pool of " + l
		}
		// The busiest pool is the one that makes callers wait.
		full := fmt.Sprintf("%d of %d connections in use", p.InUse, p.Max)
		if b := c.busiest(); b != nil && len(c.Pools) > 1 {
			full = fmt.Sprintf("%d of %d connections of pool %s in use", b.InUse, b.Max, b.Name)
		}
		if p.Timeouts > 0 {
			s.Severity = SeverityCritical
			s.Message = fmt.Sprintf("%s exhausted: %d calls timed out waiting for a connection and %d waited (%s in total); %s (%s). Raise the pool size (PoolSize) or lower the concurrency.",
				pool, p.Timeouts, p.Waits, formatSeconds(p.WaitSeconds), full, formatPercent(p.Utilization))
		} else {
			s.Message = fmt.Sprintf("%s near exhaustion: %d calls waited for a connection (%s in total) and %s (%s, threshold %s). Raise the pool size (PoolSize) before waits turn into timeouts.",
				pool, p.Waits, formatSeconds(p.WaitSeconds), full, formatPercent(p.Utilization), formatPercent(r.Thresholds.PoolUtilization))
		}
		out = append(out, s)
	}
	return out
}

func scriptReloads(r *Report) []Suggestion {
	sc := &r.Redis.ScriptCache
	if sc.WarmingUp || sc.ReloadsAfterWarmup == 0 {
		return nil
	}
	return []Suggestion{{
		Severity: SeverityWarning,
		Message: fmt.Sprintf("Lua scripts were reloaded %d times after the warm-up (%s): Redis lost its script cache (restart, failover, SCRIPT FLUSH) or a node joined. Each reload costs a NOSCRIPT round trip; find what flushes the cache.",
			sc.ReloadsAfterWarmup, time.Duration(r.Thresholds.WarmupSeconds*float64(time.Second))),
		Evidence: map[string]float64{
			contract.MetricScriptCacheReloads:         float64(sc.Reloads),
			contract.MetricScriptCacheMisses:          float64(sc.Misses),
			"redis.script_cache.reloads_after_warmup": float64(sc.ReloadsAfterWarmup),
		},
	}}
}

// errorRate judges failures that are not the caller's fault: rejected input
// never reached Redis and has its own rule.
func errorRate(r *Report) []Suggestion {
	var out []Suggestion
	for i := range r.Operations {
		op := &r.Operations[i]
		invalid := op.ErrorsByType[contract.ErrorInvalidArgument.String()]
		var failed uint64
		if op.Errors > invalid {
			failed = op.Errors - invalid
		}
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
		return "Writes lost their reply after reaching Redis, so their outcome is unknown: callers must read the link back."
	}
	return "See the spans with error status for the causes."
}

func invalidInput(r *Report) []Suggestion {
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

// tailLatency fires for each judged operation whose p99 is at least the
// threshold times its p50, or once for a tail most operations share. Each
// finding names its cause (cause.go).
func tailLatency(r *Report) []Suggestion {
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
			if op.P99Seconds/op.P50Seconds >= r.Thresholds.TailRatio {
				tails = append(tails, op)
			}
		}
	}
	if len(tails) >= sharedTailMin && 2*len(tails) >= judged {
		return []Suggestion{sharedTail(r, tails, judged, skipped)}
	}
	out := make([]Suggestion, 0, len(tails))
	for _, op := range tails {
		ratio := op.P99Seconds / op.P50Seconds
		s := Suggestion{
			Severity:  SeverityWarning,
			Operation: op.Name,
			Message: fmt.Sprintf("%s: p99 %s is %.1f× p50 %s over %d calls (threshold %.0f×).",
				op.Name, formatSeconds(op.P99Seconds), ratio, formatSeconds(op.P50Seconds), op.Count, r.Thresholds.TailRatio),
			Evidence: map[string]float64{
				key("p50_seconds", contract.AttrOperation, op.Name):             op.P50Seconds,
				key("p99_seconds", contract.AttrOperation, op.Name):             op.P99Seconds,
				key("p99_p50_ratio", contract.AttrOperation, op.Name):           ratio,
				key(contract.MetricOperations, contract.AttrOperation, op.Name): float64(op.Count),
			},
		}
		diagnose(r, op.P50Seconds, op.P99Seconds).into(&s, "slow commands (SLOWLOG) or big keys of this operation")
		out = append(out, s)
	}
	return out
}

// sharedTail merges the tails into one suggestion that names the worst
// operation, cites every ratio and the cause.
func sharedTail(r *Report, tails []*Operation, judged, skipped int) Suggestion {
	s := Suggestion{Severity: SeverityWarning, Evidence: map[string]float64{}}
	var worst *Operation
	var worstRatio float64
	for _, op := range tails {
		ratio := op.P99Seconds / op.P50Seconds
		s.Evidence[key("p99_p50_ratio", contract.AttrOperation, op.Name)] = ratio
		if ratio > worstRatio {
			worst, worstRatio = op, ratio
		}
	}
	s.Evidence[key("p50_seconds", contract.AttrOperation, worst.Name)] = worst.P50Seconds
	s.Evidence[key("p99_seconds", contract.AttrOperation, worst.Name)] = worst.P99Seconds
	s.Message = fmt.Sprintf("%d of the %d operations with at least %d calls have a slow tail (p99 at least %.0f× p50)",
		len(tails), judged, r.Thresholds.MinSamples, r.Thresholds.TailRatio)
	if skipped > 0 {
		s.Message += fmt.Sprintf("; %d with fewer calls %s not judged", skipped, plural(skipped, "was", "were"))
	}
	s.Message += fmt.Sprintf(". The worst is %s, p99 %s against p50 %s (%.1f×). A tail shared by most operations has a shared cause.",
		worst.Name, formatSeconds(worst.P99Seconds), formatSeconds(worst.P50Seconds), worstRatio)
	diagnose(r, worst.P50Seconds, worst.P99Seconds).into(&s, "the network, or Redis commands slower than PING (SLOWLOG)")
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func batchGetLinkedPod(r *Report) []Suggestion {
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
	n := len(name) + 2
	for _, s := range kv {
		n += len(s) + 1
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(name)
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i])
		b.WriteByte('=')
		b.WriteString(kv[i+1])
	}
	b.WriteByte('}')
	return b.String()
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
