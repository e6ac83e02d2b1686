package report

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"time"
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
		Operations:    make([]Operation, 0, len(raw.ops)),
	}
	if r.Source.Kind == "" {
		r.Source.Kind = SourceProcess
	}
	// Wall-clock difference, so that seconds matches start and end as
	// printed (UTC drops the monotonic reading).
	if d := r.Window.End.Sub(r.Window.Start); d > 0 {
		r.Window.Seconds = d.Seconds()
	}
	for _, name := range slices.Sorted(maps.Keys(raw.ops)) {
		o := raw.ops[name]
		s := o.stats(r.Window.Seconds)
		s.SlowestCalls = callsIn(raw.slowest[o.name], r.Window.Start, r.Window.End, cfg.traceURL)
		r.Operations = append(r.Operations, s)
	}
	r.Redis = raw.redis()
	r.Redis.Embedded = cfg.embeddedRedis
	if raw.hasRuntime || raw.osQueue.ok {
		r.Runtime = &Runtime{SchedulingLatency: latencyOf(&raw.sched), GCPauses: latencyOf(&raw.gcPauses)}
		if g := raw.gc; g.ok {
			r.Runtime.GC = &GC{Cycles: g.cycles, GOGC: g.gogc, LiveHeapBytes: g.liveBytes, CPUShare: ratioF(g.cpuSeconds, g.busySeconds)}
			if r.Window.Seconds > 0 {
				r.Runtime.GC.CyclesPerSecond = float64(g.cycles) / r.Window.Seconds
			}
		}
		if q := raw.osQueue; q.ok {
			r.Runtime.OSRunQueue = &RunQueue{WaitSeconds: nanos(q.waitSeconds), Timeslices: q.timeslices}
			if q.timeslices > 0 {
				r.Runtime.OSRunQueue.MeanWaitSeconds = nanos(q.waitSeconds / float64(q.timeslices))
			}
		}
	}
	r.Routing = raw.routing.report(r.Window.Seconds)
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
		if len(out) == slowShown {
			break
		}
		if c.Time.Before(start) || c.Time.After(end) {
			continue
		}
		if traceURL != "" {
			c.TraceURL = expandTraceURL(traceURL, c.TraceID, c.SpanID)
		}
		out = append(out, c)
	}
	return out
}

func (o *rawOp) stats(seconds float64) Operation {
	s := Operation{Name: o.name, Count: o.calls, Errors: o.errors, ErrorsByType: map[string]uint64{}}
	for t, n := range o.errorsByType {
		if n > 0 {
			s.ErrorsByType[t] = n
		}
	}
	if !o.hasCalls {
		// Without the operations counter the histogram counts the calls and
		// the error counter the failures.
		s.Count = o.hist.count
		s.Errors = 0
		for _, n := range s.ErrorsByType {
			s.Errors += n
		}
	}
	s.ErrorRate = ratio(s.Errors, s.Count)
	if seconds > 0 {
		s.OpsPerSec = float64(s.Count) / seconds
	}
	s.MeanSeconds, s.P50Seconds, s.P90Seconds, s.P99Seconds, s.MaxSeconds = o.hist.timings()
	return s
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
	rd := Redis{
		Pool: raw.sumPools(slices.Collect(maps.Keys(raw.pools))),
		ScriptCache: ScriptCache{
			Hits: raw.script.hits, Misses: raw.script.misses, Reloads: raw.script.reloads,
			HitRatio:           ratio(raw.script.hits, raw.script.hits+raw.script.misses),
			ReloadsAfterWarmup: raw.reloadsAfterWarmup,
			WarmingUp:          raw.warmingUp,
		},
		ConnectionUp: raw.connectionUp(),
		Clients:      raw.clients(),
		Commands:     raw.commandStats(),
	}
	if !raw.script.seen && raw.hasScriptRatio {
		rd.ScriptCache.HitRatio = raw.scriptHitRatio
	}
	if raw.state.seen || raw.hasStateRatio {
		rd.StateCache = &StateCache{
			Hits: raw.state.hits, Misses: raw.state.misses,
			HitRatio: ratio(raw.state.hits, raw.state.hits+raw.state.misses),
		}
		if !raw.state.seen {
			rd.StateCache.HitRatio = raw.stateHitRatio
		}
	}
	if h := &raw.ping; h.count > 0 {
		mean, p50, _, p99, top := h.timings()
		rd.Ping = &Ping{Count: h.count, P50Seconds: p50, P99Seconds: p99, MaxSeconds: top, MeanSeconds: mean}
	}
	return rd
}

// commandStats is the per-command table, sorted by name, never nil.
func (raw *rawData) commandStats() []Command {
	out := make([]Command, 0, len(raw.commands))
	for name, c := range raw.commands {
		if c.hist.count > 0 {
			cs := Command{Name: name, Count: c.hist.count, Errors: c.errors}
			cs.MeanSeconds, cs.P50Seconds, cs.P90Seconds, cs.P99Seconds, cs.MaxSeconds = c.hist.timings()
			out = append(out, cs)
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
