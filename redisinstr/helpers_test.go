package redisinstr

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/statefulroute/sfotel/internal/metrictest"
)

// testMeter is a MeterProvider with a ManualReader, shut down when the test ends.
func testMeter(t *testing.T) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp, reader
}

func collect(t *testing.T, r *sdkmetric.ManualReader) metricdata.ResourceMetrics {
	t.Helper()
	return metrictest.Collect(t, r)
}

// findMetric returns the metric of that name in our scope, or false.
func findMetric(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	return metrictest.Find(rm, ScopeName, name)
}

// point returns the value (a histogram's count) of the data point of metric
// name whose attributes are exactly kv, and how many points matched.
func point(rm metricdata.ResourceMetrics, name string, kv ...attribute.KeyValue) (float64, int) {
	m, ok := findMetric(rm, name)
	if !ok {
		return 0, 0
	}
	var (
		val   float64
		found int
	)
	match := func(set attribute.Set) bool {
		if set.Len() != len(kv) {
			return false
		}
		for _, want := range kv {
			got, ok := set.Value(want.Key)
			if !ok || got != want.Value {
				return false
			}
		}
		return true
	}
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			if match(p.Attributes) {
				val, found = float64(p.Value), found+1
			}
		}
	case metricdata.Sum[float64]:
		for _, p := range d.DataPoints {
			if match(p.Attributes) {
				val, found = p.Value, found+1
			}
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			if match(p.Attributes) {
				val, found = float64(p.Value), found+1
			}
		}
	case metricdata.Gauge[float64]:
		for _, p := range d.DataPoints {
			if match(p.Attributes) {
				val, found = p.Value, found+1
			}
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			if match(p.Attributes) {
				val, found = float64(p.Count), found+1
			}
		}
	}
	return val, found
}

// mustPoint fails the test unless exactly one data point matches.
func mustPoint(t *testing.T, rm metricdata.ResourceMetrics, name string, kv ...attribute.KeyValue) float64 {
	t.Helper()
	v, n := point(rm, name, kv...)
	if n != 1 {
		t.Fatalf("%s%v: %d matching data points, want 1", name, kv, n)
	}
	return v
}

// eventually polls cond every 20ms until it holds or d passes.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }
