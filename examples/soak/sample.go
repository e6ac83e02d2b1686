package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// sample is one reading of the process and its telemetry.
type sample struct {
	at        time.Duration // since the start
	liveHeap  uint64        // HeapAlloc right after a forced GC: what is really kept
	heapInUse uint64
	series    int
	ops, errs int64
	uidsSeen  int64
}

// take forces a collection, so the live heap is comparable between samples,
// and counts the series the SDK would export now.
func take(ctx context.Context, reader *sdkmetric.ManualReader, at time.Duration, ops, errs, uidsSeen int64) (sample, error) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		return sample{}, fmt.Errorf("collect metrics: %w", err)
	}
	return sample{at: at, liveHeap: ms.HeapAlloc, heapInUse: ms.HeapInuse, series: countSeries(rm),
		ops: ops, errs: errs, uidsSeen: uidsSeen}, nil
}

// countSeries counts the data points of every metric: one per attribute set.
func countSeries(rm metricdata.ResourceMetrics) int {
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				n += len(d.DataPoints)
			case metricdata.Sum[float64]:
				n += len(d.DataPoints)
			case metricdata.Gauge[int64]:
				n += len(d.DataPoints)
			case metricdata.Gauge[float64]:
				n += len(d.DataPoints)
			case metricdata.Histogram[int64]:
				n += len(d.DataPoints)
			case metricdata.Histogram[float64]:
				n += len(d.DataPoints)
			case metricdata.ExponentialHistogram[int64]:
				n += len(d.DataPoints)
			case metricdata.ExponentialHistogram[float64]:
				n += len(d.DataPoints)
			case metricdata.Summary:
				n += len(d.DataPoints)
			}
		}
	}
	return n
}

func printHeader(w io.Writer) {
	fmt.Fprintf(w, "%8s %12s %12s %8s %12s %10s %10s %12s\n",
		"elapsed", "live heap", "heap in use", "series", "ops", "ops/s", "errors", "uids seen")
}

func (s sample) print(w io.Writer, prev sample) {
	rate := float64(s.ops-prev.ops) / (s.at - prev.at).Seconds()
	fmt.Fprintf(w, "%8s %12s %12s %8d %12d %10.0f %10d %12d\n",
		s.at.Round(time.Second), mib(s.liveHeap), mib(s.heapInUse), s.series, s.ops, rate, s.errs, s.uidsSeen)
}

func mib(b uint64) string { return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)) }

// verdict judges the samples taken after the warm-up: the live heap's spread
// (max − min) / min must be at most tolerance, and the series count must not
// change.
type verdict struct {
	samples            int
	heapMin, heapMax   uint64
	heapSpread         float64
	heapFlat           bool
	seriesMin, seriesN int
	seriesConstant     bool
}

func judge(samples []sample, warmup time.Duration, tolerance float64) (verdict, error) {
	var after []sample
	for _, s := range samples {
		if s.at >= warmup {
			after = append(after, s)
		}
	}
	if len(after) < 2 {
		return verdict{}, fmt.Errorf("%d samples after the warm-up, need at least 2", len(after))
	}
	v := verdict{samples: len(after), heapMin: after[0].liveHeap, heapMax: after[0].liveHeap,
		seriesMin: after[0].series, seriesN: after[0].series, seriesConstant: true}
	for _, s := range after[1:] {
		v.heapMin = min(v.heapMin, s.liveHeap)
		v.heapMax = max(v.heapMax, s.liveHeap)
		v.seriesMin = min(v.seriesMin, s.series)
		v.seriesN = max(v.seriesN, s.series)
		if s.series != after[0].series {
			v.seriesConstant = false
		}
	}
	v.heapSpread = float64(v.heapMax-v.heapMin) / float64(v.heapMin)
	v.heapFlat = v.heapSpread <= tolerance
	return v, nil
}

func (v verdict) print(w io.Writer, tolerance float64) {
	word := map[bool]string{true: "PASS", false: "FAIL"}
	fmt.Fprintf(w, "\nverdict over %d samples after the warm-up:\n", v.samples)
	fmt.Fprintf(w, "  %s live heap flat: %s … %s, spread %.1f%% (limit %.0f%%)\n",
		word[v.heapFlat], mib(v.heapMin), mib(v.heapMax), 100*v.heapSpread, 100*tolerance)
	if v.seriesConstant {
		fmt.Fprintf(w, "  %s metric series constant: %d\n", word[true], v.seriesN)
	} else {
		fmt.Fprintf(w, "  %s metric series changed: %d … %d\n", word[false], v.seriesMin, v.seriesN)
	}
}
