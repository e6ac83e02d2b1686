package report

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

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

// criticalErrorRateTimes makes error_rate critical at ten times its threshold.
const criticalErrorRateTimes = 10

// suggest applies every rule to r. The result is never nil, so that JSON
// shows an empty list rather than null.
func suggest(r *Report, cfg *config) []Suggestion {
	out := []Suggestion{}
	out = connectionDown(r, out)
	out = poolExhaustion(r, cfg, out)
	out = scriptReloads(r, cfg, out)
	var tails []Suggestion
	judged := 0 // operations with enough calls for the tail rule
	for i := range r.Operations {
		op := &r.Operations[i]
		out = errorRate(op, cfg, out)
		out = invalidInput(op, out)
		if op.Count >= cfg.minSamples && op.P50Seconds > 0 {
			judged++
			tails = tailLatency(op, cfg, tails)
		}
	}
	out = append(out, sharedTail(r, cfg, tails, judged)...)
	out = batchGetLinkedPod(r, cfg, out)
	slices.SortStableFunc(out, func(a, b Suggestion) int {
		if c := cmp.Compare(severityRank(b.Severity), severityRank(a.Severity)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return cmp.Compare(a.Operation, b.Operation)
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

func connectionDown(r *Report, out []Suggestion) []Suggestion {
	if up := r.Redis.ConnectionUp; up == nil || *up {
		return out
	}
	return append(out, Suggestion{
		ID:       RuleConnectionDown,
		Severity: SeverityCritical,
		Message:  "Redis connection is down: calls fail until it is back. Check that Redis is reachable from this process (address, network, TLS, credentials).",
		Evidence: map[string]float64{
			key(contract.MetricConnectionStatus, contract.AttrStatus, contract.StatusUp): 0,
		},
	})
}

func poolExhaustion(r *Report, cfg *config, out []Suggestion) []Suggestion {
	p := &r.Redis.Pool
	nearFull := p.Utilization >= cfg.poolUtilizationThreshold
	if p.Timeouts == 0 && (p.Waits == 0 || !nearFull) {
		return out
	}
	s := Suggestion{
		ID:       RulePoolExhaustion,
		Severity: SeverityWarning,
		Evidence: map[string]float64{
			contract.MetricPoolWaits:    float64(p.Waits),
			contract.MetricPoolTimeouts: float64(p.Timeouts),
			contract.MetricPoolWaitTime: p.WaitSeconds,
			"redis.pool.in_use":         float64(p.InUse),
			"redis.pool.max":            float64(p.Max),
			"redis.pool.utilization":    p.Utilization,
		},
	}
	if p.Timeouts > 0 {
		s.Severity = SeverityCritical
		s.Message = fmt.Sprintf("Connection pool exhausted: %d calls timed out waiting for a connection and %d waited (%s in total); %d of %d connections in use (%s). Raise the pool size (PoolSize) or lower the concurrency.",
			p.Timeouts, p.Waits, formatSeconds(p.WaitSeconds), p.InUse, p.Max, formatPercent(p.Utilization))
	} else {
		s.Message = fmt.Sprintf("Connection pool near exhaustion: %d calls waited for a connection (%s in total) and %d of %d connections are in use (%s, threshold %s). Raise the pool size (PoolSize) before waits turn into timeouts.",
			p.Waits, formatSeconds(p.WaitSeconds), p.InUse, p.Max, formatPercent(p.Utilization), formatPercent(cfg.poolUtilizationThreshold))
	}
	return append(out, s)
}

func scriptReloads(r *Report, cfg *config, out []Suggestion) []Suggestion {
	raw := rawOf(r)
	if raw.warmingUp || raw.reloadsAfterWarmup == 0 {
		return out
	}
	return append(out, Suggestion{
		ID:       RuleScriptReloads,
		Severity: SeverityWarning,
		Message: fmt.Sprintf("Lua scripts were reloaded %d times after the warm-up (%s): Redis lost its script cache (restart, failover, SCRIPT FLUSH) or a node joined. Each reload costs a NOSCRIPT round trip; find what flushes the cache.",
			raw.reloadsAfterWarmup, cfg.warmup),
		Evidence: map[string]float64{
			contract.MetricScriptCacheReloads:         float64(r.Redis.ScriptCache.Reloads),
			contract.MetricScriptCacheMisses:          float64(r.Redis.ScriptCache.Misses),
			"redis.script_cache.reloads_after_warmup": float64(raw.reloadsAfterWarmup),
		},
	})
}

// errorRate judges failures that are not the caller's fault: rejected input
// never reached Redis and has its own rule.
func errorRate(op *Operation, cfg *config, out []Suggestion) []Suggestion {
	invalid := op.ErrorsByType[contract.ErrorInvalidArgument.String()]
	failed := counterDelta(op.Errors, invalid)
	if op.Errors < invalid {
		failed = 0
	}
	if op.Count < cfg.minSamples || failed == 0 {
		return out
	}
	rate := float64(failed) / float64(op.Count)
	if rate <= cfg.errorRateThreshold {
		return out
	}
	top, topN := topErrorType(op.ErrorsByType)
	s := Suggestion{
		ID:        RuleErrorRate,
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
	if rate >= criticalErrorRateTimes*cfg.errorRateThreshold {
		s.Severity = SeverityCritical
	}
	s.Message = fmt.Sprintf("%s: %s of %d calls failed (%d errors, threshold %s)",
		op.Name, formatPercent(rate), op.Count, failed, formatPercent(cfg.errorRateThreshold))
	if top != "" {
		s.Evidence[key(contract.MetricErrors, contract.AttrOperation, op.Name, contract.AttrErrorType, top)] = float64(topN)
		s.Message += fmt.Sprintf("; most were %s (%d). %s", top, topN, errorAdvice(top))
	} else {
		s.Message += "."
	}
	return append(out, s)
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

func invalidInput(op *Operation, out []Suggestion) []Suggestion {
	n := op.ErrorsByType[contract.ErrorInvalidArgument.String()]
	if n == 0 {
		return out
	}
	return append(out, Suggestion{
		ID:        RuleInvalidInput,
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

func tailLatency(op *Operation, cfg *config, out []Suggestion) []Suggestion {
	r := op.P99Seconds / op.P50Seconds
	if r < cfg.tailRatioThreshold {
		return out
	}
	return append(out, Suggestion{
		ID:        RuleTailLatency,
		Severity:  SeverityWarning,
		Operation: op.Name,
		Message: fmt.Sprintf("%s: p99 %s is %.1f× p50 %s over %d calls (threshold %.0f×). A slow tail usually comes from pool waits, slow commands (SLOWLOG), big keys or pauses in this process.",
			op.Name, formatSeconds(op.P99Seconds), r, formatSeconds(op.P50Seconds), op.Count, cfg.tailRatioThreshold),
		Evidence: map[string]float64{
			key("p50_seconds", contract.AttrOperation, op.Name):             op.P50Seconds,
			key("p99_seconds", contract.AttrOperation, op.Name):             op.P99Seconds,
			key("p99_p50_ratio", contract.AttrOperation, op.Name):           r,
			key(contract.MetricOperations, contract.AttrOperation, op.Name): float64(op.Count),
		},
	})
}

// Tail findings are merged into one when at least this many operations, and
// at least half of those judged, have a slow tail: the cause is then shared
// (CPU starvation or GC pauses in this process, pool waits, a slow Redis or
// network), and one finding says so better than one per operation.
const sharedTailMin = 3

// minPingsForVerdict is how many pings the shared-tail finding needs before
// it says whether the tail lies in this process or in Redis.
const minPingsForVerdict = 10

// sharedTail returns tails as they are, or merged into one suggestion that
// names the worst operation and cites every ratio and the Redis ping.
func sharedTail(r *Report, cfg *config, tails []Suggestion, judged int) []Suggestion {
	if len(tails) < sharedTailMin || 2*len(tails) < judged {
		return tails
	}
	merged := Suggestion{ID: RuleTailLatency, Severity: SeverityWarning, Evidence: map[string]float64{}}
	var worst *Operation
	var worstRatio float64
	for _, t := range tails {
		op := r.Operation(t.Operation)
		ratio := op.P99Seconds / op.P50Seconds
		merged.Evidence[key("p99_p50_ratio", contract.AttrOperation, op.Name)] = ratio
		if ratio > worstRatio {
			worst, worstRatio = op, ratio
		}
	}
	merged.Evidence[key("p50_seconds", contract.AttrOperation, worst.Name)] = worst.P50Seconds
	merged.Evidence[key("p99_seconds", contract.AttrOperation, worst.Name)] = worst.P99Seconds
	merged.Message = fmt.Sprintf("%d of %d operations have a slow tail (p99 at least %.0f× p50); the worst is %s, p99 %s against p50 %s (%.1f×). A tail shared by most operations has a shared cause: CPU starvation or GC pauses in this process, pool waits, or a slow Redis or network.",
		len(tails), judged, cfg.tailRatioThreshold, worst.Name, formatSeconds(worst.P99Seconds), formatSeconds(worst.P50Seconds), worstRatio)
	if p := r.Redis.Ping; p != nil && p.Count > 0 {
		merged.Evidence["redis.ping.p99_seconds"] = p.P99Seconds
		merged.Message += fmt.Sprintf(" Redis answered PING in p99 %s over %d pings", formatSeconds(p.P99Seconds), p.Count)
		switch {
		case p.Count < minPingsForVerdict:
			merged.Message += "."
		case p.P99Seconds <= worst.P99Seconds/4:
			merged.Message += ", far below the operations' tail: look at this process first."
		case p.P99Seconds >= worst.P99Seconds/2:
			merged.Message += ", close to the operations' tail: look at Redis and the network first."
		default:
			merged.Message += "."
		}
	}
	return []Suggestion{merged}
}

func batchGetLinkedPod(r *Report, cfg *config, out []Suggestion) []Suggestion {
	single := r.Operation(contract.OpGetLinkedPod.String())
	if single == nil || single.Count < cfg.minSamples || single.OpsPerSec < cfg.batchHintRate {
		return out
	}
	var batched uint64
	if b := r.Operation(contract.OpBatchGetLinkedPod.String()); b != nil {
		batched = b.Count
	}
	if float64(batched) >= cfg.batchHintShare*float64(single.Count) {
		return out
	}
	return append(out, Suggestion{
		ID:        RuleBatchGetLinkedPod,
		Severity:  SeverityInfo,
		Operation: contract.OpGetLinkedPod.String(),
		Message: fmt.Sprintf("%s ran %.0f calls/s (%d calls) and %s only %d: where a caller looks up many users at once, one %s call answers them in one round trip.",
			contract.OpGetLinkedPod.String(), single.OpsPerSec, single.Count, contract.OpBatchGetLinkedPod.String(), batched, contract.OpBatchGetLinkedPod.String()),
		Evidence: map[string]float64{
			key("ops_per_sec", contract.AttrOperation, contract.OpGetLinkedPod.String()):                  single.OpsPerSec,
			key(contract.MetricOperations, contract.AttrOperation, contract.OpGetLinkedPod.String()):      float64(single.Count),
			key(contract.MetricOperations, contract.AttrOperation, contract.OpBatchGetLinkedPod.String()): float64(batched),
		},
	})
}

// key names a metric with attributes the way evidence cites it:
// name{k1=v1,k2=v2}.
func key(name string, kv ...string) string {
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
