package report

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/statefulroute/sfotel/internal/contract"
)

// build computes a report from raw data over the window start..end and
// applies the suggestion rules.
func build(raw *rawData, start, end time.Time, cfg *config) *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		GeneratedAt:   end.UTC(),
		Window:        Window{Start: start.UTC(), End: end.UTC()},
		Service:       raw.service,
		Source:        raw.source,
		Thresholds:    cfg.thresholds(),
		Operations:    []Operation{},
	}
	if r.Source.Kind == "" {
		r.Source.Kind = SourceProcess
	}
	// Wall-clock difference, so that seconds matches start and end as
	// printed (UTC drops the monotonic reading).
	if d := r.Window.End.Sub(r.Window.Start); d > 0 {
		r.Window.Seconds = d.Seconds()
	}
	for _, name := range raw.operationNames() {
		s := raw.operation(name, r.Window.Seconds)
		s.SlowestCalls = callsIn(raw.slowest[name], r.Window.Start, r.Window.End, cfg.traceURL)
		r.Operations = append(r.Operations, s)
	}
	r.Redis = raw.redis()
	r.Redis.Embedded = cfg.embeddedRedis
	if raw.hasRuntime || raw.os.ok {
		r.Runtime = &Runtime{SchedulingLatency: latencyOf(&raw.sched), GCPauses: latencyOf(&raw.gcPauses)}
		if g := raw.gc; g.ok {
			r.Runtime.GC = &GC{Cycles: g.cycles, GOGC: g.gogc, LiveHeapBytes: g.liveBytes, CPUShare: ratioF(g.cpuSeconds, g.busySeconds)}
			if r.Window.Seconds > 0 {
				r.Runtime.GC.CyclesPerSecond = float64(g.cycles) / r.Window.Seconds
			}
		}
		if q := raw.os; q.ok {
			r.Runtime.OSRunQueue = &RunQueue{WaitSeconds: nanos(q.waitSeconds), Timeslices: q.timeslices}
			if q.timeslices > 0 {
				r.Runtime.OSRunQueue.MeanWaitSeconds = nanos(q.waitSeconds / float64(q.timeslices))
			}
		}
	}
	r.Routing = raw.routing(r.Window.Seconds)
	r.Suggestions = suggest(r, raw)
	return r
}

func (c *config) thresholds() Thresholds {
	t := c.rules
	t.WarmupSeconds = c.warmup.Seconds()
	return t
}

// callsIn returns the first slowShown of calls (slowest first) that ended
// inside start..end, linked to their traces, never nil.
func callsIn(calls []Call, start, end time.Time, traceURL string) []Call {
	out := make([]Call, 0, min(len(calls), slowShown))
	for _, c := range calls {
		if len(out) < slowShown && !c.Time.Before(start) && !c.Time.After(end) {
			if traceURL != "" {
				c.TraceURL = expandTraceURL(traceURL, c.TraceID, c.SpanID)
			}
			out = append(out, c)
		}
	}
	return out
}

// operationNames are the operations of any point of the operation
// instruments, sorted.
func (raw *rawData) operationNames() []string {
	var names []string
	for _, name := range []string{contract.MetricOperations, contract.MetricErrors, contract.MetricOperationDuration} {
		for a := range raw.series[name] {
			if a[0] != "" && !slices.Contains(names, a[0]) {
				names = append(names, a[0])
			}
		}
	}
	slices.Sort(names)
	return names
}

// operation is the statistics of one operation over seconds.
func (raw *rawData) operation(name string, seconds float64) Operation {
	h := raw.hist(contract.MetricOperationDuration, name)
	s := Operation{Name: name, Count: raw.total(contract.MetricOperations, name),
		Errors: raw.total(contract.MetricOperations, name, contract.StatusError), ErrorsByType: map[string]uint64{}}
	for a, e := range raw.series[contract.MetricErrors] {
		if n := count(e.value); a[0] == name && a[1] != "" && n > 0 {
			s.ErrorsByType[a[1]] += n
		}
	}
	if !raw.has(contract.MetricOperations, name) {
		// Without the operations counter the histogram counts the calls and
		// the error counter the failures.
		s.Count = h.count
		s.Errors = 0
		for _, n := range s.ErrorsByType {
			s.Errors += n
		}
	}
	s.ErrorRate = ratio(s.Errors, s.Count)
	if seconds > 0 {
		s.OpsPerSec = float64(s.Count) / seconds
	}
	s.MeanSeconds, s.P50Seconds, s.P90Seconds, s.P99Seconds, s.MaxSeconds = h.timings()
	return s
}

// total is sum as a count.
func (raw *rawData) total(name string, prefix ...string) uint64 {
	return count(raw.sum(name, prefix...))
}

// timings are h's mean, p50, p90, p99 and max, to the nanosecond; zero
// when h is empty.
func (h *histogram) timings() (mean, p50, p90, p99, top float64) {
	if h.count == 0 {
		return 0, 0, 0, 0, 0
	}
	return h.mean(), nanos(h.quantile(0.50)), nanos(h.quantile(0.90)), nanos(h.quantile(0.99)), nanos(h.maxOrEdge())
}

// mean is sum / count, 0 when the source has no sum.
func (h *histogram) mean() float64 {
	if h.count == 0 || h.noSum {
		return 0
	}
	return nanos(h.sum / float64(h.count))
}

func latencyOf(h *histogram) Latency {
	_, p50, _, p99, top := h.timings()
	return Latency{Count: h.count, P50Seconds: p50, P99Seconds: p99, MaxSeconds: top}
}

func (raw *rawData) redis() Redis {
	hits, misses := raw.total(contract.MetricScriptCacheHits), raw.total(contract.MetricScriptCacheMisses)
	rd := Redis{
		ScriptCache: ScriptCache{
			Hits: hits, Misses: misses, Reloads: raw.total(contract.MetricScriptCacheReloads),
			HitRatio:           ratio(hits, hits+misses),
			ReloadsAfterWarmup: raw.reloadsAfterWarmup,
			WarmingUp:          raw.warmingUp,
		},
		Clients:  raw.clients(),
		Commands: raw.commandStats(),
	}
	for _, c := range rd.Clients {
		rd.Pool.add(c.Pool)
		if c.ConnectionUp != nil { // down when any client is down
			up := *c.ConnectionUp && (rd.ConnectionUp == nil || *rd.ConnectionUp)
			rd.ConnectionUp = &up
		}
	}
	// The hit ratio gauges stand in for absent counters.
	seen := func(names ...string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return raw.has(n) })
	}
	ratios := raw.series[contract.MetricCacheHitRatio]
	if s := ratios[attrs{contract.CacheScript}]; s != nil && !seen(contract.MetricScriptCacheHits, contract.MetricScriptCacheMisses, contract.MetricScriptCacheReloads) {
		rd.ScriptCache.HitRatio = s.value
	}
	state := seen(contract.MetricStateCacheHits, contract.MetricStateCacheMisses)
	if s := ratios[attrs{contract.CacheState}]; state || s != nil {
		hits, misses := raw.total(contract.MetricStateCacheHits), raw.total(contract.MetricStateCacheMisses)
		rd.StateCache = &StateCache{Hits: hits, Misses: misses, HitRatio: ratio(hits, hits+misses)}
		if !state {
			rd.StateCache.HitRatio = s.value
		}
	}
	if h := raw.hist(contract.MetricPingDuration); h.count > 0 {
		mean, p50, _, p99, top := h.timings()
		rd.Ping = &Ping{Count: h.count, P50Seconds: p50, P99Seconds: p99, MaxSeconds: top, MeanSeconds: mean}
	}
	return rd
}

// commandStats is the per-command table, sorted by name, never nil.
func (raw *rawData) commandStats() []Command {
	var hists map[string]*histogram
	errs := map[string]uint64{}
	for a, s := range raw.series[contract.MetricCommandDuration] {
		name := cmp.Or(a[0], OtherCommand)
		entry(&hists, name).merge(&s.hist)
		if a[1] != "" {
			errs[name] += s.hist.count
		}
	}
	out := make([]Command, 0, len(hists))
	for name, h := range hists {
		if h.count > 0 {
			c := Command{Name: name, Count: h.count, Errors: errs[name]}
			c.MeanSeconds, c.P50Seconds, c.P90Seconds, c.P99Seconds, c.MaxSeconds = h.timings()
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Command) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// ratio is part/whole, 0 when whole is 0.
func ratio(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// ratioF is part/whole, 0 when whole is not positive.
func ratioF(part, whole float64) float64 {
	if whole <= 0 {
		return 0
	}
	return min(part/whole, 1)
}

// nanos rounds seconds to the nanosecond: finer digits are float noise.
func nanos(s float64) float64 {
	return math.Round(s*1e9) / 1e9
}
