package report

import (
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
)

var (
	keyOperation   = attribute.Key(contract.AttrOperation)
	keyStatus      = attribute.Key(contract.AttrStatus)
	keyErrorType   = attribute.Key(contract.AttrErrorType)
	keyCacheType   = attribute.Key(contract.AttrCacheType)
	keyPoolName    = attribute.Key(contract.AttrPoolName)
	keyPoolState   = attribute.Key(contract.AttrConnectionState)
	keyDBOperation = attribute.Key(contract.AttrDBOperationName)
	keyErrorTypeSC = attribute.Key(contract.AttrErrorTypeSemconv)
)

// OtherCommand names the commands in the report's Redis section that
// redisinstr records without a db.operation.name (those outside its fixed
// table of command names).
const OtherCommand = "(other)"

// reportScopes are the instrumentation scopes the report reads. Another
// library's instruments of the same name (otelsql's or pgx's
// db.client.connection.*, say) live in scopes of their own and are never
// summed in.
var reportScopes = map[string]bool{
	contract.ScopeExecutor: true,
	contract.ScopeRedis:    true,
}

// gather walks one collection and sums sfotel's instruments over attribute
// sets. Other scopes and unknown instruments are skipped.
func gather(rm *metricdata.ResourceMetrics) *rawData {
	raw := &rawData{source: Source{Kind: SourceProcess}}
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
		if !reportScopes[rm.ScopeMetrics[i].Scope.Name] {
			continue
		}
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
				eachExemplar(m.Data, func(attrs *attribute.Set, v float64, at time.Time, traceID, spanID string) {
					if o := op(attrs); o != nil {
						if raw.slowest == nil {
							raw.slowest = make(map[string][]Call, 4)
						}
						raw.slowest[o.name] = append(raw.slowest[o.name], Call{TraceID: traceID, SpanID: spanID, Seconds: v, Time: at.UTC()})
					}
				})
			case contract.MetricPingDuration:
				eachHistogram(m.Data, func(_ *attribute.Set, add func(*histogram)) { add(&raw.ping) })
			case contract.MetricCommandDuration:
				eachHistogram(m.Data, func(attrs *attribute.Set, add func(*histogram)) {
					name := OtherCommand
					if v, ok := attrs.Value(keyDBOperation); ok {
						name = v.AsString()
					}
					c := raw.command(name)
					before := c.hist.count
					add(&c.hist)
					if attrs.HasValue(keyErrorTypeSC) {
						c.errors += c.hist.count - before
					}
				})
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
				eachNumber(m.Data, func(attrs *attribute.Set, v float64) {
					raw.observeStatus(poolKey{name: poolName(attrs)}, statusValue(attrs), v)
				})
			default:
				raw.gatherPool(m)
				raw.routing.gather(m)
			}
		}
	}
	raw.ops = opsByName(ops)
	return raw
}

// poolName is the db.client.connection.pool.name of a point, "" if absent.
func poolName(attrs *attribute.Set) string {
	v, _ := attrs.Value(keyPoolName)
	return v.AsString()
}

func statusValue(attrs *attribute.Set) string {
	v, _ := attrs.Value(keyStatus)
	return v.AsString()
}

// observeStatus records one point of a client's connection-status pair.
func (raw *rawData) observeStatus(k poolKey, status string, v float64) {
	s := raw.status(k)
	switch {
	case status == contract.StatusUp && v > 0:
		s.upSeen = true
	case status == contract.StatusDown && v > 0, status == contract.StatusUp:
		s.downSeen = true
	}
}

// gatherPool reads the pool instruments, per pool; other names are ignored.
func (raw *rawData) gatherPool(m *metricdata.Metrics) {
	each := func(fn func(p *rawPool, attrs *attribute.Set, v float64)) {
		eachNumber(m.Data, func(attrs *attribute.Set, v float64) {
			fn(raw.pool(poolKey{name: poolName(attrs)}), attrs, v)
		})
	}
	switch m.Name {
	case contract.MetricPoolConnectionCount:
		each(func(p *rawPool, attrs *attribute.Set, v float64) {
			switch s, _ := attrs.Value(keyPoolState); s.AsString() {
			case semconv.DBClientConnectionStateUsed.Value.AsString():
				p.used += int64(count(v))
			case semconv.DBClientConnectionStateIdle.Value.AsString():
				p.idle += int64(count(v))
			}
		})
	case contract.MetricPoolMax:
		each(func(p *rawPool, _ *attribute.Set, v float64) { p.max += int64(count(v)); p.hasMax = true })
	case contract.MetricPoolWaits:
		each(func(p *rawPool, _ *attribute.Set, v float64) { p.waits += count(v) })
	case contract.MetricPoolTimeouts:
		each(func(p *rawPool, _ *attribute.Set, v float64) { p.timeouts += count(v) })
	case contract.MetricPoolHits:
		each(func(p *rawPool, _ *attribute.Set, v float64) { p.hits += count(v) })
	case contract.MetricPoolMisses:
		each(func(p *rawPool, _ *attribute.Set, v float64) { p.misses += count(v) })
	case contract.MetricPoolWaitTime:
		each(func(p *rawPool, _ *attribute.Set, v float64) { p.waitSeconds += math.Max(v, 0) })
	case contract.MetricPoolUtilization:
		each(func(p *rawPool, _ *attribute.Set, v float64) {
			p.utilization = math.Max(p.utilization, v)
			p.hasUtilization = true
		})
	}
}
