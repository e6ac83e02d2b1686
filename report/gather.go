package report

import (
	"encoding/hex"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

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
