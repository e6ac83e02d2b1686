package report

import (
	"math"
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
		Operations:    make([]Operation, 0, len(raw.ops)),
		raw:           raw,
		cfg:           cfg,
	}
	// Wall-clock difference, so that seconds matches start and end as
	// printed (UTC drops the monotonic reading).
	if d := r.Window.End.Sub(r.Window.Start); d > 0 {
		r.Window.Seconds = d.Seconds()
	}
	for _, o := range raw.ops {
		r.Operations = append(r.Operations, o.stats(r.Window.Seconds))
	}
	r.Redis = raw.redis()
	r.Suggestions = suggest(r, cfg)
	return r
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
	if h := &o.hist; h.count > 0 {
		s.MeanSeconds = nanos(h.sum / float64(h.count))
		s.P50Seconds = nanos(h.quantile(0.50))
		s.P90Seconds = nanos(h.quantile(0.90))
		s.P99Seconds = nanos(h.quantile(0.99))
		s.MaxSeconds = nanos(h.maxOrEdge())
	}
	return s
}

func (raw *rawData) redis() Redis {
	p := raw.pool
	rd := Redis{
		Pool: Pool{
			Max: p.max, InUse: p.inUse, Idle: p.idle,
			Waits: p.waits, WaitSeconds: p.waitSeconds, Timeouts: p.timeouts,
			Hits: p.hits, Misses: p.misses,
		},
		ScriptCache: ScriptCache{
			Hits: raw.script.hits, Misses: raw.script.misses, Reloads: raw.script.reloads,
			HitRatio: ratio(raw.script.hits, raw.script.hits+raw.script.misses),
		},
	}
	// The busiest pool's utilization: a full pool makes its callers wait
	// even while another (go-redis's pipeline pool, another node) is idle.
	if u, ok := p.busiest(); ok {
		rd.Pool.Utilization = u
	} else if p.hasUtilization {
		rd.Pool.Utilization = p.utilization
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
		rd.Ping = &Ping{
			Count:       h.count,
			P50Seconds:  nanos(h.quantile(0.50)),
			P99Seconds:  nanos(h.quantile(0.99)),
			MaxSeconds:  nanos(h.maxOrEdge()),
			MeanSeconds: nanos(h.sum / float64(h.count)),
		}
	}
	if raw.connUpSeen || raw.connDownSeen {
		up := raw.connUpSeen && !raw.connDownSeen
		rd.ConnectionUp = &up
	}
	return rd
}

// ratio is part/whole, 0 when whole is 0.
func ratio(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// nanos rounds seconds to the nanosecond: finer digits are float noise.
func nanos(s float64) float64 {
	return math.Round(s*1e9) / 1e9
}
