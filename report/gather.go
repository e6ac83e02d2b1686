package report

import (
	"encoding/hex"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
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

// gather walks one collection and adds every point of the instruments in
// reads. Other scopes and instruments are skipped.
func gather(rm *metricdata.ResourceMetrics) *rawData {
	raw := &rawData{source: Source{Kind: SourceProcess}}
	if v, ok := rm.Resource.Set().Value(semconv.ServiceNameKey); ok {
		raw.service.Name = v.Emit()
	}
	if v, ok := rm.Resource.Set().Value(semconv.ServiceVersionKey); ok {
		raw.service.Version = v.Emit()
	}
	for _, sm := range rm.ScopeMetrics {
		if !reportScopes[sm.Scope.Name] {
			continue
		}
		for _, m := range sm.Metrics {
			if _, ok := reads[m.Name]; !ok {
				continue
			}
			g := sdkGatherer{raw: raw, name: m.Name}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				numbers(&g, d.DataPoints)
			case metricdata.Sum[float64]:
				numbers(&g, d.DataPoints)
			case metricdata.Gauge[int64]:
				numbers(&g, d.DataPoints)
			case metricdata.Gauge[float64]:
				numbers(&g, d.DataPoints)
			case metricdata.ExponentialHistogram[int64]:
				histograms(&g, d.DataPoints)
			case metricdata.ExponentialHistogram[float64]:
				histograms(&g, d.DataPoints)
			}
			// Explicit-bucket points (a View can force them on this reader)
			// are skipped: their few fixed buckets cannot give the
			// quantiles the report promises.
		}
	}
	return raw
}

// sdkGatherer reads the points of one instrument.
type sdkGatherer struct {
	raw  *rawData
	name string
}

// started moves the window start back to the oldest start of the
// operations' instruments.
func (g *sdkGatherer) started(t time.Time) {
	if g.name != contract.MetricOperations && g.name != contract.MetricOperationDuration {
		return
	}
	if !t.IsZero() && (g.raw.start.IsZero() || t.Before(g.raw.start)) {
		g.raw.start = t
	}
}

func attrOf(set *attribute.Set) func(string) string {
	return func(key string) string {
		v, _ := set.Value(attribute.Key(key))
		return v.Emit()
	}
}

func numbers[N int64 | float64](g *sdkGatherer, dps []metricdata.DataPoint[N]) {
	for i := range dps {
		g.started(dps[i].StartTime)
		g.raw.add(g.name, &point{attr: attrOf(&dps[i].Attributes), value: float64(dps[i].Value)})
	}
}

// histograms observes every exponential histogram point, and keeps the
// exemplars with a trace of the operations' durations as slow calls.
func histograms[N int64 | float64](g *sdkGatherer, dps []metricdata.ExponentialHistogramDataPoint[N]) {
	for i := range dps {
		dp := &dps[i]
		g.started(dp.StartTime)
		p := &point{attr: attrOf(&dp.Attributes), hist: expHistogram(dp)}
		g.raw.add(g.name, p)
		if g.name != contract.MetricOperationDuration {
			continue
		}
		op := p.attr(contract.AttrOperation)
		for _, e := range dp.Exemplars {
			if op == "" || len(e.TraceID) != 16 || allZero(e.TraceID) {
				continue
			}
			if g.raw.slowest == nil {
				g.raw.slowest = make(map[string][]Call, 4)
			}
			g.raw.slowest[op] = append(g.raw.slowest[op], Call{
				TraceID: hex.EncodeToString(e.TraceID), SpanID: hex.EncodeToString(e.SpanID),
				Seconds: float64(e.Value), Time: e.Time.UTC(),
			})
		}
	}
}

// expHistogram is one SDK data point as a histogram.
func expHistogram[N int64 | float64](dp *metricdata.ExponentialHistogramDataPoint[N]) *histogram {
	var negative uint64
	for _, n := range dp.NegativeBucket.Counts {
		negative += n
	}
	h := &histogram{
		scale:  dp.Scale,
		offset: dp.PositiveBucket.Offset,
		counts: dp.PositiveBucket.Counts,
		zero:   dp.ZeroCount + negative,
		count:  dp.Count,
		sum:    float64(dp.Sum),
	}
	minV, okMin := dp.Min.Value()
	maxV, okMax := dp.Max.Value()
	if okMin && okMax {
		h.min, h.max, h.minMax = float64(minV), float64(maxV), true
	}
	return h
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
