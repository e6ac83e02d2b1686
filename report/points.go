package report

import (
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
