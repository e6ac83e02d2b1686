package report

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
// prev returns cur; a nil cur returns nil. Delta reads nothing but its two
// arguments and changes neither.
func Delta(prev, cur *Report) *Report {
	if cur == nil {
		return nil
	}
	if prev == nil {
		return cur
	}
	cfg := cur.cfg
	if cfg == nil {
		cfg = defaultConfig()
	}
	return build(deltaRaw(rawOf(prev), rawOf(cur)), prev.Window.End, cur.Window.End, cfg)
}

func rawOf(r *Report) *rawData {
	if r.raw == nil {
		return &rawData{}
	}
	return r.raw
}

// deltaRaw is c − p, the raw data of the interval between two snapshots.
func deltaRaw(p, c *rawData) *rawData {
	d := &rawData{
		service:        c.service,
		source:         c.source,
		ops:            make([]*rawOp, 0, len(c.ops)),
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
	if len(c.pools) > 0 {
		d.pools = make(map[poolKey]*rawPool, len(c.pools))
		for k, cp := range c.pools {
			pp := p.pools[k]
			if pp == nil {
				pp = &rawPool{}
			}
			d.pools[k] = cp.minus(pp)
		}
	}
	if len(c.commands) > 0 {
		d.commands = make(map[string]*rawCommand, len(c.commands))
		for name, cc := range c.commands {
			pc := p.commands[name]
			if pc == nil {
				pc = &rawCommand{}
			}
			h := sub(&cc.hist, &pc.hist)
			errs := counterDelta(cc.errors, pc.errors)
			if h.count == cc.hist.count { // restarted, or nothing before
				errs = cc.errors
			}
			d.commands[name] = &rawCommand{hist: h, errors: min(errs, h.count)}
		}
	}
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
	return d
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
	d.waitSeconds = floatDelta(c.waitSeconds, p.waitSeconds)
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
	return osRunQueue{waitSeconds: floatDelta(q.waitSeconds, p.waitSeconds), timeslices: counterDelta(q.timeslices, p.timeslices), ok: true}
}
