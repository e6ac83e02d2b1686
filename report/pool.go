package report

import (
	"math"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
)

// rawPool sums the Redis connection pool instruments over pools and nodes.
type rawPool struct {
	// Per pool (db.client.connection.pool.name), for the busiest pool's
	// utilization.
	pools                map[string]*poolUse
	max, inUse, idle     int64
	waits, timeouts      uint64
	hits, misses         uint64
	waitSeconds          float64
	utilization          float64 // the utilization gauge, when max is unknown
	hasUtilization, seen bool
}

type poolUse struct{ used, max int64 }

// use returns the counts of the pool the attributes name.
func (p *rawPool) use(attrs *attribute.Set) *poolUse {
	v, _ := attrs.Value(semconv.DBClientConnectionPoolNameKey)
	name := v.AsString()
	if p.pools == nil {
		p.pools = make(map[string]*poolUse, 2)
	}
	u := p.pools[name]
	if u == nil {
		u = &poolUse{}
		p.pools[name] = u
	}
	return u
}

// busiest is the highest in use / max of the pools that report a max.
func (p *rawPool) busiest() (float64, bool) {
	var best float64
	var ok bool
	for _, u := range p.pools {
		if u.max > 0 {
			best, ok = max(best, float64(u.used)/float64(u.max)), true
		}
	}
	return best, ok
}

// gather reads the pool instruments; other names are ignored.
func (p *rawPool) gather(m *metricdata.Metrics) {
	switch m.Name {
	case contract.MetricPoolConnectionCount:
		eachNumber(m.Data, func(attrs *attribute.Set, v float64) {
			p.seen = true
			switch s, _ := attrs.Value(semconv.DBClientConnectionStateKey); s.AsString() {
			case semconv.DBClientConnectionStateUsed.Value.AsString():
				p.inUse += int64(math.Round(v))
				p.use(attrs).used += int64(math.Round(v))
			case semconv.DBClientConnectionStateIdle.Value.AsString():
				p.idle += int64(math.Round(v))
			}
		})
	case contract.MetricPoolMax:
		eachNumber(m.Data, func(attrs *attribute.Set, v float64) {
			p.seen = true
			p.max += int64(math.Round(v))
			p.use(attrs).max += int64(math.Round(v))
		})
	case contract.MetricPoolWaits:
		p.waits += sum(m.Data, &p.seen)
	case contract.MetricPoolTimeouts:
		p.timeouts += sum(m.Data, &p.seen)
	case contract.MetricPoolHits:
		p.hits += sum(m.Data, &p.seen)
	case contract.MetricPoolMisses:
		p.misses += sum(m.Data, &p.seen)
	case contract.MetricPoolWaitTime:
		p.waitSeconds += sumFloat(m.Data, &p.seen)
	case contract.MetricPoolUtilization:
		eachNumber(m.Data, func(_ *attribute.Set, v float64) {
			p.seen = true
			p.utilization = math.Max(p.utilization, v)
			p.hasUtilization = true
		})
	}
}
