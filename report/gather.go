package report

import (
	"cmp"
	"math"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/statefulroute/sfotel/internal/contract"
)

// rawData is what a report is computed from: counters and histograms summed
// over attribute sets and scopes. Delta differences two of them.
type rawData struct {
	start   time.Time
	service Service
	ops     []*rawOp // sorted by name

	pool   rawPool
	script rawCache
	state  rawCache
	// scriptHitRatio is the cache_hit_ratio gauge, used when the script
	// cache counters are absent.
	scriptHitRatio, stateHitRatio float64
	hasScriptRatio, hasStateRatio bool

	ping histogram // PING round trips of the connection prober

	connUpSeen   bool // a client reported its connection up
	connDownSeen bool // a client reported its connection down

	warmingUp          bool   // the window ends inside the warm-up period
	reloadsAfterWarmup uint64 // script reloads counted since the warm-up ended
}

type rawOp struct {
	name         string
	calls        uint64 // from the operations counter
	errors       uint64 // status=error calls
	hasCalls     bool   // the operations counter has this operation
	errorsByType map[string]uint64
	hist         histogram
}

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

type rawCache struct {
	hits, misses, reloads uint64
	seen                  bool
}

var (
	keyOperation = attribute.Key(contract.AttrOperation)
	keyStatus    = attribute.Key(contract.AttrStatus)
	keyErrorType = attribute.Key(contract.AttrErrorType)
	keyCacheType = attribute.Key(contract.AttrCacheType)
)

// gather walks one collection and sums the contract's instruments over
// scopes and attribute sets. Unknown instruments are skipped.
func gather(rm *metricdata.ResourceMetrics) *rawData {
	raw := &rawData{}
	if v, ok := rm.Resource.Set().Value(semconv.ServiceNameKey); ok {
		raw.service.Name = v.Emit()
	}
	if v, ok := rm.Resource.Set().Value(semconv.ServiceVersionKey); ok {
		raw.service.Version = v.Emit()
	}
	ops := make(map[string]*rawOp, len(contract.Operations))
	op := func(attrs *attribute.Set) *rawOp {
		v, ok := attrs.Value(keyOperation)
		if !ok {
			return nil
		}
		name := v.AsString()
		o := ops[name]
		if o == nil {
			o = &rawOp{name: name}
			ops[name] = o
		}
		return o
	}
	for i := range rm.ScopeMetrics {
		for j := range rm.ScopeMetrics[i].Metrics {
			m := &rm.ScopeMetrics[i].Metrics[j]
			switch m.Name {
			case contract.MetricOperations:
				raw.earliest(m.Data)
				eachNumber(m.Data, func(attrs *attribute.Set, v float64) {
					if o := op(attrs); o != nil {
						n := count(v)
						o.calls += n
						o.hasCalls = true
						if s, _ := attrs.Value(keyStatus); s.AsString() == contract.StatusError {
							o.errors += n
						}
					}
				})
			case contract.MetricErrors:
				eachNumber(m.Data, func(attrs *attribute.Set, v float64) {
					o := op(attrs)
					if o == nil {
						return
					}
					t, ok := attrs.Value(keyErrorType)
					if !ok {
						return
					}
					if o.errorsByType == nil {
						o.errorsByType = make(map[string]uint64, 2)
					}
					o.errorsByType[t.AsString()] += count(v)
				})
			case contract.MetricOperationDuration:
				raw.earliest(m.Data)
				eachHistogram(m.Data, func(attrs *attribute.Set, add func(*histogram)) {
					if o := op(attrs); o != nil {
						add(&o.hist)
					}
				})
			case contract.MetricPingDuration:
				eachHistogram(m.Data, func(_ *attribute.Set, add func(*histogram)) { add(&raw.ping) })
			case contract.MetricScriptCacheHits:
				raw.script.hits += sum(m.Data, &raw.script.seen)
			case contract.MetricScriptCacheMisses:
				raw.script.misses += sum(m.Data, &raw.script.seen)
			case contract.MetricScriptCacheReloads:
				raw.script.reloads += sum(m.Data, &raw.script.seen)
			case contract.MetricStateCacheHits:
				raw.state.hits += sum(m.Data, &raw.state.seen)
			case contract.MetricStateCacheMisses:
				raw.state.misses += sum(m.Data, &raw.state.seen)
			case contract.MetricCacheHitRatio:
				eachNumber(m.Data, func(attrs *attribute.Set, v float64) {
					switch t, _ := attrs.Value(keyCacheType); t.AsString() {
					case contract.CacheScript:
						raw.scriptHitRatio, raw.hasScriptRatio = v, true
					case contract.CacheState:
						raw.stateHitRatio, raw.hasStateRatio = v, true
					}
				})
			case contract.MetricConnectionStatus:
				// Any client or node reporting down makes the connection down:
				// one unreachable cluster node fails its share of the calls.
				eachNumber(m.Data, func(attrs *attribute.Set, v float64) {
					switch s, _ := attrs.Value(keyStatus); {
					case s.AsString() == contract.StatusUp && v > 0:
						raw.connUpSeen = true
					case s.AsString() == contract.StatusDown && v > 0,
						s.AsString() == contract.StatusUp:
						raw.connDownSeen = true
					}
				})
			default:
				raw.pool.gather(m)
			}
		}
	}
	raw.ops = make([]*rawOp, 0, len(ops))
	for _, o := range ops {
		raw.ops = append(raw.ops, o)
	}
	slices.SortFunc(raw.ops, func(a, b *rawOp) int { return cmp.Compare(a.name, b.name) })
	return raw
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

// earliest moves the window start back to the oldest StartTime in data.
func (raw *rawData) earliest(data metricdata.Aggregation) {
	see := func(t time.Time) {
		if !t.IsZero() && (raw.start.IsZero() || t.Before(raw.start)) {
			raw.start = t
		}
	}
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		for i := range d.DataPoints {
			see(d.DataPoints[i].StartTime)
		}
	case metricdata.Sum[float64]:
		for i := range d.DataPoints {
			see(d.DataPoints[i].StartTime)
		}
	case metricdata.ExponentialHistogram[float64]:
		for i := range d.DataPoints {
			see(d.DataPoints[i].StartTime)
		}
	case metricdata.ExponentialHistogram[int64]:
		for i := range d.DataPoints {
			see(d.DataPoints[i].StartTime)
		}
	}
}

// eachNumber calls fn for every data point of a sum or gauge, whichever
// number type the instrument was created with.
func eachNumber(data metricdata.Aggregation, fn func(*attribute.Set, float64)) {
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		for i := range d.DataPoints {
			fn(&d.DataPoints[i].Attributes, float64(d.DataPoints[i].Value))
		}
	case metricdata.Sum[float64]:
		for i := range d.DataPoints {
			fn(&d.DataPoints[i].Attributes, d.DataPoints[i].Value)
		}
	case metricdata.Gauge[int64]:
		for i := range d.DataPoints {
			fn(&d.DataPoints[i].Attributes, float64(d.DataPoints[i].Value))
		}
	case metricdata.Gauge[float64]:
		for i := range d.DataPoints {
			fn(&d.DataPoints[i].Attributes, d.DataPoints[i].Value)
		}
	}
}

// eachHistogram calls fn for every exponential histogram data point; add
// merges the point into the histogram fn chooses. Explicit-bucket points (a
// View can force them on this reader) are skipped: their few fixed buckets
// cannot give the quantiles the report promises.
func eachHistogram(data metricdata.Aggregation, fn func(*attribute.Set, func(*histogram))) {
	switch d := data.(type) {
	case metricdata.ExponentialHistogram[float64]:
		for i := range d.DataPoints {
			dp := &d.DataPoints[i]
			fn(&dp.Attributes, func(h *histogram) { addPoint(h, dp) })
		}
	case metricdata.ExponentialHistogram[int64]:
		for i := range d.DataPoints {
			dp := &d.DataPoints[i]
			fn(&dp.Attributes, func(h *histogram) { addPoint(h, dp) })
		}
	}
}

func count(v float64) uint64 {
	if !(v > 0) {
		return 0
	}
	return uint64(math.Round(v))
}

func sum(data metricdata.Aggregation, seen *bool) uint64 {
	return count(sumFloat(data, seen))
}

func sumFloat(data metricdata.Aggregation, seen *bool) float64 {
	var total float64
	eachNumber(data, func(_ *attribute.Set, v float64) {
		total += v
		*seen = true
	})
	return total
}
