package report

import "time"

// Snapshot is a collector's cumulative data at one moment
// (Collector.Snapshot): what its reports are computed from. Its Report is
// the cumulative report; Delta makes the report of the interval between
// two.
type Snapshot struct {
	raw        *rawData
	start, end time.Time
	cfg        *config
}

// Report returns the cumulative report of s: its window starts when the
// first instrument started recording and ends at the snapshot.
func (s *Snapshot) Report() *Report {
	return build(s.data(), s.start, s.end, s.config())
}

func (s *Snapshot) data() *rawData {
	if s.raw == nil {
		return &rawData{}
	}
	return s.raw
}

func (s *Snapshot) config() *config {
	if s.cfg == nil {
		return defaultConfig()
	}
	return s.cfg
}

// Delta returns the report of the interval between two snapshots of the same
// collector: its window runs from prev's end to cur's end, counts are
// differences, and quantiles come from the differenced histogram buckets. A
// counter or histogram that went down was restarted; cur's value is then
// taken as the interval's.
//
// Pool max, in use, idle, utilization, the hit ratio gauges and the
// connection statuses are the values at cur's end. max_seconds cannot be
// derived from cumulative data: in an interval report it is the upper edge of
// the highest histogram bucket that gained values (within one bucket width,
// 2.2%), capped by cur's lifetime max. The slowest calls are cur's that
// ended inside the interval.
//
// The rules are applied again to the interval with cur's thresholds. A nil
// prev returns cur's cumulative report; a nil cur returns nil. Delta
// changes neither snapshot.
func Delta(prev, cur *Snapshot) *Report {
	if cur == nil {
		return nil
	}
	if prev == nil {
		return cur.Report()
	}
	return build(deltaRaw(prev.data(), cur.data()), prev.end, cur.end, cur.config())
}

// deltaRaw is c − p, the raw data of the interval between two snapshots.
func deltaRaw(p, c *rawData) *rawData {
	return &rawData{
		service:        c.service,
		source:         c.source,
		ops:            minusEach(c.ops, p.ops, (*rawOp).minus),
		pools:          minusEach(c.pools, p.pools, (*rawPool).minus),
		commands:       minusEach(c.commands, p.commands, (*rawCommand).minus),
		state:          c.state.minus(&p.state),
		script:         c.script.minus(&p.script),
		scriptHitRatio: c.scriptHitRatio, hasScriptRatio: c.hasScriptRatio,
		stateHitRatio: c.stateHitRatio, hasStateRatio: c.hasStateRatio,
		statuses:           c.statuses,
		ping:               sub(&c.ping, &p.ping),
		sched:              sub(&c.sched, &p.sched),
		gcPauses:           sub(&c.gcPauses, &p.gcPauses),
		hasRuntime:         c.hasRuntime,
		osQueue:            c.osQueue.minus(p.osQueue),
		gc:                 c.gc.minus(p.gc),
		warmingUp:          c.warmingUp,
		reloadsAfterWarmup: counterDelta(c.reloadsAfterWarmup, p.reloadsAfterWarmup),
		slowest:            c.slowest,
		routing:            c.routing.minus(&p.routing),
	}
}

// minusEach is minus of every entry of cur and prev's of the same key
// (zero when prev has none).
func minusEach[K comparable, V any](cur, prev map[K]*V, minus func(c, p *V) *V) map[K]*V {
	if len(cur) == 0 {
		return nil
	}
	out := make(map[K]*V, len(cur))
	for k, c := range cur {
		p := prev[k]
		if p == nil {
			p = new(V)
		}
		out[k] = minus(c, p)
	}
	return out
}

func (c *rawCommand) minus(p *rawCommand) *rawCommand {
	h := sub(&c.hist, &p.hist)
	errs := counterDelta(c.errors, p.errors)
	if h.count == c.hist.count { // restarted, or nothing before
		errs = c.errors
	}
	return &rawCommand{hist: h, errors: min(errs, h.count)}
}

func (c *rawOp) minus(p *rawOp) *rawOp {
	if c.calls < p.calls || c.hist.count < p.hist.count {
		p = &rawOp{} // restarted: everything in cur is new
	}
	d := &rawOp{
		name:     c.name,
		calls:    c.calls - p.calls,
		errors:   counterDelta(c.errors, p.errors),
		hasCalls: c.hasCalls,
		hist:     sub(&c.hist, &p.hist),
	}
	if len(c.errorsByType) > 0 {
		d.errorsByType = make(map[string]uint64, len(c.errorsByType))
		for t, n := range c.errorsByType {
			d.errorsByType[t] = counterDelta(n, p.errorsByType[t])
		}
	}
	return d
}

// minus differences the counters of a pool; the gauges are cur's.
func (c *rawPool) minus(p *rawPool) *rawPool {
	d := *c
	d.waits = counterDelta(c.waits, p.waits)
	d.timeouts = counterDelta(c.timeouts, p.timeouts)
	d.hits = counterDelta(c.hits, p.hits)
	d.misses = counterDelta(c.misses, p.misses)
	d.waitSeconds = counterDelta(c.waitSeconds, p.waitSeconds)
	return &d
}

func (c *rawCache) minus(p *rawCache) rawCache {
	return rawCache{
		hits:    counterDelta(c.hits, p.hits),
		misses:  counterDelta(c.misses, p.misses),
		reloads: counterDelta(c.reloads, p.reloads),
		seen:    c.seen,
	}
}

// minus is q − p for two totals of one collector.
func (q osRunQueue) minus(p osRunQueue) osRunQueue {
	if !q.ok || !p.ok {
		return q
	}
	return osRunQueue{waitSeconds: counterDelta(q.waitSeconds, p.waitSeconds), timeslices: counterDelta(q.timeslices, p.timeslices), ok: true}
}
