package report

import (
	"encoding/hex"
	"math"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/statefulroute/sfotel/internal/contract"
)

// rawData is what a report is computed from: the series of the
// instruments in reads, from sfotel's instrumentation scopes only, and the
// Go runtime's evidence. Either source, the SDK (gather) or Prometheus
// (fleet.go), adds its points; a Snapshot holds one, and Delta differences
// two. The analysis (build, suggest) reads only it.
type rawData struct {
	start   time.Time
	service Service
	source  Source
	series  map[string]map[attrs]*sample // by contract instrument name, then kept attributes

	runtimeSample

	warmingUp          bool   // the window ends inside the warm-up period
	reloadsAfterWarmup uint64 // script reloads counted since the warm-up ended

	// slowest holds, per operation, the slowest calls with a sampled trace
	// that the collector has seen recently; build keeps those in the window.
	slowest map[string][]Call
}

// attrInstance is the label of the Prometheus instance that reported a
// series (none in a process's own report): pools and clients are told
// apart by it.
const attrInstance = "instance"

// reads is the report's one table of the instruments it reads, by their
// contract names, with the attributes it tells apart, in this order (three
// at most): points that agree on them are summed (counters), merged
// (histograms) or the highest kept (gauges). The fleet report derives its
// Prometheus queries from it.
var reads = func() map[string][]string {
	m := map[string][]string{
		contract.MetricOperations:          {contract.AttrOperation, contract.AttrStatus},
		contract.MetricErrors:              {contract.AttrOperation, contract.AttrErrorType},
		contract.MetricOperationDuration:   {contract.AttrOperation},
		contract.MetricCommandDuration:     {contract.AttrDBOperationName, contract.AttrErrorTypeSemconv},
		contract.MetricCacheHitRatio:       {contract.AttrCacheType},
		contract.MetricRoutingDecisions:    {contract.AttrOutcome},
		contract.MetricLinksMoved:          {contract.AttrOperation},
		contract.MetricPods:                {contract.AttrNamespace, contract.AttrService, contract.AttrPodState},
		contract.MetricPodHeartbeatAge:     {contract.AttrNamespace, contract.AttrService},
		contract.MetricPodLoadSpread:       {contract.AttrNamespace, contract.AttrService},
		contract.MetricConnectionStatus:    {attrInstance, contract.AttrPoolName, contract.AttrStatus},
		contract.MetricPoolConnectionCount: {attrInstance, contract.AttrPoolName, contract.AttrConnectionState},
	}
	for _, name := range []string{contract.MetricPingDuration, contract.MetricScriptCacheHits, contract.MetricScriptCacheMisses,
		contract.MetricScriptCacheReloads, contract.MetricStateCacheHits, contract.MetricStateCacheMisses} {
		m[name] = nil
	}
	for _, name := range []string{contract.MetricPoolMax, contract.MetricPoolWaits, contract.MetricPoolTimeouts,
		contract.MetricPoolHits, contract.MetricPoolMisses, contract.MetricPoolWaitTime, contract.MetricPoolUtilization} {
		m[name] = []string{attrInstance, contract.AttrPoolName}
	}
	return m
}()

// kinds are the contract's kinds of the instruments in reads.
var kinds = func() map[string]contract.Kind {
	m := make(map[string]contract.Kind, len(reads))
	for _, d := range reportInstruments() {
		m[d.Name] = d.Kind
	}
	return m
}()

// reportInstruments are the contract's descriptions of the instruments in
// reads, in the contract's order.
func reportInstruments() []contract.Desc {
	return slices.DeleteFunc(contract.Instruments(), func(d contract.Desc) bool {
		_, ok := reads[d.Name]
		return !ok
	})
}

// attrs are the values of the attributes an instrument keeps, in the
// order of its entry in reads.
type attrs [3]string

// sample is one series: a counter's or gauge's value, or a histogram.
type sample struct {
	value float64
	hist  histogram
}

// add puts one point of the instrument name into its series: its value,
// or its histogram for a histogram instrument; attr reads its attributes
// by OTel key, "" when absent. An instrument outside reads is ignored.
func (raw *rawData) add(name string, attr func(key string) string, value float64, hist *histogram) {
	keep, ok := reads[name]
	if !ok {
		return
	}
	var a attrs
	for i, k := range keep {
		a[i] = attr(k)
	}
	if raw.series == nil {
		raw.series = make(map[string]map[attrs]*sample, len(reads))
	}
	m := raw.series[name]
	_, seen := m[a]
	s := entry(&m, a)
	raw.series[name] = m
	switch kinds[name] {
	case contract.KindHistogram:
		s.hist.merge(hist)
	case contract.KindGauge:
		if !seen || value > s.value {
			s.value = value
		}
	default:
		s.value += value
	}
}

// match reports whether a begins with prefix.
func (a *attrs) match(prefix []string) bool {
	for i, v := range prefix {
		if a[i] != v {
			return false
		}
	}
	return true
}

// has reports whether name has a series whose attributes begin with prefix.
func (raw *rawData) has(name string, prefix ...string) bool {
	for a := range raw.series[name] {
		if a.match(prefix) {
			return true
		}
	}
	return false
}

// sum is the total of name's series whose attributes begin with prefix.
func (raw *rawData) sum(name string, prefix ...string) float64 {
	var v float64
	for a, s := range raw.series[name] {
		if a.match(prefix) {
			v += s.value
		}
	}
	return v
}

// hist merges name's histograms whose attributes begin with prefix.
func (raw *rawData) hist(name string, prefix ...string) *histogram {
	var h histogram
	for a, s := range raw.series[name] {
		if a.match(prefix) {
			h.merge(&s.hist)
		}
	}
	return &h
}

// each returns a copy of raw whose samples are fn's of raw's. The copy
// shares nothing fn does not give it: raw data is never modified once
// gathered.
func (raw *rawData) each(fn func(name string, a attrs, s *sample) sample) *rawData {
	c := *raw
	c.series = make(map[string]map[attrs]*sample, len(raw.series))
	for name, m := range raw.series {
		cm := make(map[attrs]*sample, len(m))
		for a, s := range m {
			v := fn(name, a, s)
			cm[a] = &v
		}
		c.series[name] = cm
	}
	return &c
}

// deltaRaw is c − p, the raw data of the interval between two snapshots:
// counters and histograms differenced (a series that went down restarted,
// and counts from zero), gauges c's.
func deltaRaw(p, c *rawData) *rawData {
	d := c.each(func(name string, a attrs, cs *sample) sample {
		ps := p.series[name][a]
		if ps == nil {
			ps = &sample{}
		}
		switch kinds[name] {
		case contract.KindHistogram:
			return sample{hist: sub(&cs.hist, &ps.hist)}
		case contract.KindCounter:
			return sample{value: counterDelta(cs.value, ps.value)}
		}
		return *cs
	})
	d.runtimeSample = c.runtimeSample.minus(&p.runtimeSample)
	d.reloadsAfterWarmup = counterDelta(c.reloadsAfterWarmup, p.reloadsAfterWarmup)
	return d
}

// counterDelta is cur − prev for a cumulative counter; a counter that went
// down was restarted, and cur is what it counted since.
func counterDelta[N uint64 | float64](cur, prev N) N {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// sizeBytes estimates the memory raw holds, for the history's budget:
// the histograms' buckets dominate it.
func (raw *rawData) sizeBytes() int {
	n := 512 + raw.sched.sizeBytes() + raw.gcPauses.sizeBytes()
	for _, m := range raw.series {
		for a, s := range m {
			n += 96 + len(a[0]) + len(a[1]) + len(a[2]) + s.hist.sizeBytes()
		}
	}
	for _, calls := range raw.slowest {
		n += 64 + 112*len(calls)
	}
	return n
}

// entry is m[k], made (with m) when absent.
func entry[K comparable, V any](m *map[K]*V, k K) *V {
	if *m == nil {
		*m = make(map[K]*V, 4)
	}
	v := (*m)[k]
	if v == nil {
		v = new(V)
		(*m)[k] = v
	}
	return v
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

// gather adds every point of the instruments in reads of one collection to
// new raw data. Explicit-bucket points (a View can force them on this
// reader) are skipped: their few fixed buckets cannot give the quantiles
// the report promises.
func gather(rm *metricdata.ResourceMetrics) *rawData {
	raw := &rawData{source: Source{Kind: SourceProcess}}
	if v, ok := rm.Resource.Set().Value(semconv.ServiceNameKey); ok {
		raw.service.Name = v.Emit()
	}
	if v, ok := rm.Resource.Set().Value(semconv.ServiceVersionKey); ok {
		raw.service.Version = v.Emit()
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if _, ok := reads[m.Name]; !ok || !reportScopes[sm.Scope.Name] {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				numbers(raw, m.Name, d.DataPoints)
			case metricdata.Sum[float64]:
				numbers(raw, m.Name, d.DataPoints)
			case metricdata.Gauge[int64]:
				numbers(raw, m.Name, d.DataPoints)
			case metricdata.Gauge[float64]:
				numbers(raw, m.Name, d.DataPoints)
			case metricdata.ExponentialHistogram[int64]:
				histograms(raw, m.Name, d.DataPoints)
			case metricdata.ExponentialHistogram[float64]:
				histograms(raw, m.Name, d.DataPoints)
			}
		}
	}
	return raw
}

// started moves the window start back to the oldest start of the
// operations' instruments.
func (raw *rawData) started(name string, t time.Time) {
	if (name == contract.MetricOperations || name == contract.MetricOperationDuration) &&
		!t.IsZero() && (raw.start.IsZero() || t.Before(raw.start)) {
		raw.start = t
	}
}

func attrOf(set *attribute.Set) func(string) string {
	return func(key string) string {
		v, _ := set.Value(attribute.Key(key))
		return v.Emit()
	}
}

func numbers[N int64 | float64](raw *rawData, name string, dps []metricdata.DataPoint[N]) {
	for _, dp := range dps {
		raw.started(name, dp.StartTime)
		raw.add(name, attrOf(&dp.Attributes), float64(dp.Value), nil)
	}
}

// histograms adds every exponential histogram point, and keeps the
// exemplars with a trace of the operations' durations as slow calls.
func histograms[N int64 | float64](raw *rawData, name string, dps []metricdata.ExponentialHistogramDataPoint[N]) {
	for _, dp := range dps {
		raw.started(name, dp.StartTime)
		var negative uint64
		for _, n := range dp.NegativeBucket.Counts {
			negative += n
		}
		h := &histogram{scale: dp.Scale, offset: dp.PositiveBucket.Offset, counts: dp.PositiveBucket.Counts,
			zero: dp.ZeroCount + negative, count: dp.Count, sum: float64(dp.Sum)}
		minV, okMin := dp.Min.Value()
		maxV, okMax := dp.Max.Value()
		if okMin && okMax {
			h.min, h.max, h.minMax = float64(minV), float64(maxV), true
		}
		attr := attrOf(&dp.Attributes)
		raw.add(name, attr, 0, h)
		op := attr(contract.AttrOperation)
		if name != contract.MetricOperationDuration || op == "" {
			continue
		}
		if raw.slowest == nil {
			raw.slowest = make(map[string][]Call, 4)
		}
		for _, e := range dp.Exemplars {
			if len(e.TraceID) == 16 && trace.TraceID(e.TraceID).IsValid() {
				raw.slowest[op] = append(raw.slowest[op], Call{
					TraceID: hex.EncodeToString(e.TraceID), SpanID: hex.EncodeToString(e.SpanID),
					Seconds: float64(e.Value), Time: e.Time.UTC(),
				})
			}
		}
	}
}
