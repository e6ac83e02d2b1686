package report

import (
	"cmp"
	"math"
	"slices"

	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
)

// point is one observation of an instrument: a sum's or gauge's value, or
// a histogram, with its attributes. Both sources make them, the process's
// SDK (gather.go) and Prometheus (fleet.go), and both hand them to the same
// observers.
type point struct {
	attr     func(key string) string // an attribute's value by OTel key, "" when absent
	instance string                  // the Prometheus instance; "" in a process's own report
	value    float64
	hist     *histogram // histogram instruments only
}

func (p *point) pool() poolKey {
	return poolKey{instance: p.instance, name: p.attr(contract.AttrPoolName)}
}

// observer adds one point of an instrument to the raw data.
type observer func(raw *rawData, p *point)

// observers is the report's one table of the instruments it reads, by
// their contract names: how each point becomes raw data. The fleet report
// derives its Prometheus queries from it (promInstruments).
var observers = map[string]observer{
	contract.MetricOperations: func(raw *rawData, p *point) {
		if o := raw.op(p.attr(contract.AttrOperation)); o != nil {
			n := count(p.value)
			o.calls += n
			o.hasCalls = true
			if p.attr(contract.AttrStatus) == contract.StatusError {
				o.errors += n
			}
		}
	},
	contract.MetricErrors: func(raw *rawData, p *point) {
		if o, t := raw.op(p.attr(contract.AttrOperation)), p.attr(contract.AttrErrorType); o != nil && t != "" {
			if o.errorsByType == nil {
				o.errorsByType = make(map[string]uint64, 2)
			}
			o.errorsByType[t] += count(p.value)
		}
	},
	contract.MetricOperationDuration: func(raw *rawData, p *point) {
		if o := raw.op(p.attr(contract.AttrOperation)); o != nil {
			o.hist.merge(p.hist)
		}
	},
	contract.MetricPingDuration: func(raw *rawData, p *point) { raw.ping.merge(p.hist) },
	contract.MetricCommandDuration: func(raw *rawData, p *point) {
		c := entry(&raw.commands, cmp.Or(p.attr(contract.AttrDBOperationName), OtherCommand))
		c.hist.merge(p.hist)
		if p.attr(contract.AttrErrorTypeSemconv) != "" {
			c.errors += p.hist.count
		}
	},
	contract.MetricScriptCacheHits:    cacheCounter(func(raw *rawData) (*rawCache, *uint64) { return &raw.script, &raw.script.hits }),
	contract.MetricScriptCacheMisses:  cacheCounter(func(raw *rawData) (*rawCache, *uint64) { return &raw.script, &raw.script.misses }),
	contract.MetricScriptCacheReloads: cacheCounter(func(raw *rawData) (*rawCache, *uint64) { return &raw.script, &raw.script.reloads }),
	contract.MetricStateCacheHits:     cacheCounter(func(raw *rawData) (*rawCache, *uint64) { return &raw.state, &raw.state.hits }),
	contract.MetricStateCacheMisses:   cacheCounter(func(raw *rawData) (*rawCache, *uint64) { return &raw.state, &raw.state.misses }),
	contract.MetricCacheHitRatio: func(raw *rawData, p *point) {
		switch p.attr(contract.AttrCacheType) {
		case contract.CacheScript:
			raw.scriptHitRatio, raw.hasScriptRatio = p.value, true
		case contract.CacheState:
			raw.stateHitRatio, raw.hasStateRatio = p.value, true
		}
	},
	contract.MetricRoutingDecisions: routingObserver(contract.MetricRoutingDecisions),
	contract.MetricLinksMoved:       routingObserver(contract.MetricLinksMoved),
	contract.MetricPods:             routingObserver(contract.MetricPods),
	contract.MetricPodHeartbeatAge:  routingObserver(contract.MetricPodHeartbeatAge),
	contract.MetricPodLoadSpread:    routingObserver(contract.MetricPodLoadSpread),
	contract.MetricConnectionStatus: func(raw *rawData, p *point) {
		s := entry(&raw.statuses, p.pool())
		switch status := p.attr(contract.AttrStatus); {
		case status == contract.StatusUp && p.value > 0:
			s.upSeen = true
		case status == contract.StatusDown && p.value > 0, status == contract.StatusUp:
			s.downSeen = true
		}
	},
	contract.MetricPoolConnectionCount: func(raw *rawData, p *point) {
		switch pl := entry(&raw.pools, p.pool()); p.attr(contract.AttrConnectionState) {
		case semconv.DBClientConnectionStateUsed.Value.AsString():
			pl.used += int64(count(p.value))
		case semconv.DBClientConnectionStateIdle.Value.AsString():
			pl.idle += int64(count(p.value))
		}
	},
	contract.MetricPoolMax: func(raw *rawData, p *point) {
		pl := entry(&raw.pools, p.pool())
		pl.max += int64(count(p.value))
		pl.hasMax = true
	},
	contract.MetricPoolWaits:    poolCounter(func(pl *rawPool) *uint64 { return &pl.waits }),
	contract.MetricPoolTimeouts: poolCounter(func(pl *rawPool) *uint64 { return &pl.timeouts }),
	contract.MetricPoolHits:     poolCounter(func(pl *rawPool) *uint64 { return &pl.hits }),
	contract.MetricPoolMisses:   poolCounter(func(pl *rawPool) *uint64 { return &pl.misses }),
	contract.MetricPoolWaitTime: func(raw *rawData, p *point) { entry(&raw.pools, p.pool()).waitSeconds += math.Max(p.value, 0) },
	contract.MetricPoolUtilization: func(raw *rawData, p *point) {
		pl := entry(&raw.pools, p.pool())
		pl.utilization, pl.hasUtilization = math.Max(pl.utilization, p.value), true
	},
}

func cacheCounter(field func(*rawData) (*rawCache, *uint64)) observer {
	return func(raw *rawData, p *point) {
		c, n := field(raw)
		c.seen = true
		*n += count(p.value)
	}
}

func poolCounter(field func(*rawPool) *uint64) observer {
	return func(raw *rawData, p *point) { *field(entry(&raw.pools, p.pool())) += count(p.value) }
}

// reportInstruments are the contract's descriptions of the instruments in
// observers, in the contract's order.
func reportInstruments() []contract.Desc {
	return slices.DeleteFunc(contract.Instruments(), func(d contract.Desc) bool { return observers[d.Name] == nil })
}

// maxCount is 2^53, the largest count a float64 holds exactly: a sample
// beyond it counts nothing real (a fleet report leaves such series out).
const maxCount = 1 << 53

// count is the package's one conversion of a float to a count: rounded,
// 0 below zero or NaN, and never past maxCount, where an unchecked
// conversion makes 2^63 of +Inf.
func count(v float64) uint64 {
	if !(v > 0) {
		return 0
	}
	return uint64(math.Round(min(v, maxCount)))
}
