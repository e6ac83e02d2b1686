package report

import (
	"encoding/hex"
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

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

// eachExemplar calls fn for every exemplar with a trace on the histogram's
// data points: the value, when it was recorded and the span's IDs in hex.
func eachExemplar(data metricdata.Aggregation, fn func(attrs *attribute.Set, value float64, at time.Time, traceID, spanID string)) {
	emit := func(attrs *attribute.Set, v float64, at time.Time, tid, sid []byte) {
		if len(tid) != 16 || allZero(tid) {
			return
		}
		fn(attrs, v, at, hex.EncodeToString(tid), hex.EncodeToString(sid))
	}
	switch d := data.(type) {
	case metricdata.ExponentialHistogram[float64]:
		for i := range d.DataPoints {
			for _, e := range d.DataPoints[i].Exemplars {
				emit(&d.DataPoints[i].Attributes, e.Value, e.Time, e.TraceID, e.SpanID)
			}
		}
	case metricdata.ExponentialHistogram[int64]:
		for i := range d.DataPoints {
			for _, e := range d.DataPoints[i].Exemplars {
				emit(&d.DataPoints[i].Attributes, float64(e.Value), e.Time, e.TraceID, e.SpanID)
			}
		}
	}
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
