package report

// Delta returns the report of the interval between two snapshots of the same
// collector: its window runs from prev's end to cur's end, counts are
// differences, and quantiles come from the differenced histogram buckets. A
// counter or histogram that went down was restarted; cur's value is then
// taken as the interval's.
//
// Pool max, in use, idle, utilization, the hit ratio gauges and the
// connection status are the values at cur's end. max_seconds cannot be
// derived from cumulative data: in an interval report it is the upper edge of
// the highest histogram bucket that gained values (within one bucket width,
// 2.2%), capped by cur's lifetime max.
//
// The rules are applied again to the interval with cur's thresholds. A nil
// prev returns cur; a nil cur returns nil.
func Delta(prev, cur *Report) *Report {
	if cur == nil {
		return nil
	}
	if prev == nil {
		return cur
	}
	p, c := rawOf(prev), rawOf(cur)
	d := &rawData{
		service:        c.service,
		ops:            make([]*rawOp, 0, len(c.ops)),
		state:          c.state.minus(&p.state),
		script:         c.script.minus(&p.script),
		scriptHitRatio: c.scriptHitRatio, hasScriptRatio: c.hasScriptRatio,
		stateHitRatio: c.stateHitRatio, hasStateRatio: c.hasStateRatio,
		connUpSeen: c.connUpSeen, connDownSeen: c.connDownSeen,
		ping:               sub(&c.ping, &p.ping),
		warmingUp:          c.warmingUp,
		reloadsAfterWarmup: counterDelta(c.reloadsAfterWarmup, p.reloadsAfterWarmup),
	}
	d.pool = c.pool
	d.pool.waits = counterDelta(c.pool.waits, p.pool.waits)
	d.pool.timeouts = counterDelta(c.pool.timeouts, p.pool.timeouts)
	d.pool.hits = counterDelta(c.pool.hits, p.pool.hits)
	d.pool.misses = counterDelta(c.pool.misses, p.pool.misses)
	if c.pool.waitSeconds >= p.pool.waitSeconds {
		d.pool.waitSeconds = c.pool.waitSeconds - p.pool.waitSeconds
	} // else restarted: cur's value, already in d

	prevOps := make(map[string]*rawOp, len(p.ops))
	for _, o := range p.ops {
		prevOps[o.name] = o
	}
	for _, co := range c.ops {
		po := prevOps[co.name]
		if po == nil {
			po = &rawOp{}
		}
		d.ops = append(d.ops, co.minus(po))
	}

	cfg := cur.cfg
	if cfg == nil {
		cfg = defaultConfig()
	}
	return build(d, prev.Window.End, cur.Window.End, cfg)
}

func rawOf(r *Report) *rawData {
	if r.raw == nil {
		return &rawData{}
	}
	return r.raw
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

func (c *rawCache) minus(p *rawCache) rawCache {
	return rawCache{
		hits:    counterDelta(c.hits, p.hits),
		misses:  counterDelta(c.misses, p.misses),
		reloads: counterDelta(c.reloads, p.reloads),
		seen:    c.seen,
	}
}
