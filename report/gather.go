package report

import (
	"cmp"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

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
	ops := make(map[string]*rawOp, int(contract.NumOps))
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
