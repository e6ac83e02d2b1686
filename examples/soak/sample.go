package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// sample is one reading of the process and its telemetry.
type sample struct {
	at        time.Duration // since the start
	liveHeap  uint64        // HeapAlloc right after a forced GC: what is really kept
	heapInUse uint64
	series    int
	conns     uint32 // go-redis connections open, both pools: each holds its buffers
	ops, errs int64
	uidsSeen  int64
}

// take forces a collection, so the live heap is comparable between samples,
// and counts the series the SDK would export now.
func take(ctx context.Context, reader *sdkmetric.ManualReader, rdb *redis.Client, at time.Duration, ops, errs, uidsSeen int64) (sample, error) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		return sample{}, fmt.Errorf("collect metrics: %w", err)
	}
	return sample{at: at, liveHeap: ms.HeapAlloc, heapInUse: ms.HeapInuse, series: countSeries(rm),
		conns: openConns(rdb), ops: ops, errs: errs, uidsSeen: uidsSeen}, nil
}

// openConns counts the connections of the client's command and pipeline
// pools. Every connection keeps its read and write buffers (32 KiB each for
// commands, 128 KiB each for pipelines), so a pool growing towards its size
// shows in the live heap.
func openConns(rdb *redis.Client) uint32 {
	s := rdb.PoolStats()
	n := s.TotalConns
	if s.PipelineStats != nil {
		n += s.PipelineStats.TotalConns
	}
	return n
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
	fmt.Fprintf(w, "%8s %12s %12s %8s %6s %12s %10s %10s %12s\n",
		"elapsed", "live heap", "heap in use", "series", "conns", "ops", "ops/s", "errors", "uids seen")
}

func (s sample) print(w io.Writer, prev sample) {
	rate := float64(s.ops-prev.ops) / (s.at - prev.at).Seconds()
	fmt.Fprintf(w, "%8s %12s %12s %8d %6d %12d %10.0f %10d %12d\n",
		s.at.Round(time.Second), mib(s.liveHeap), mib(s.heapInUse), s.series, s.conns, s.ops, rate, s.errs, s.uidsSeen)
}

func mib(b uint64) string { return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)) }

// verdict judges the samples taken after the warm-up. The live heap is
// flat when the median of the last third of them is at most tolerance above
// the median of the first third: a leak grows with the uids churned, while
// bounded buffers (go-redis opening connections up to its pool sizes, the
// span queue's fill at the moment of the GC) move single samples or make one
// early step. The spread (max − min) / min is reported too. The series count
// must not change at all.
type verdict struct {
	samples             int
	heapMin, heapMax    uint64
	heapSpread          float64
	heapFirst, heapLast uint64 // medians of the first and last thirds
	heapGrowth          float64
	heapFlat            bool
	seriesMin, seriesN  int
	seriesConstant      bool
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
	third := max(1, len(after)/3)
	v.heapFirst = medianHeap(after[:third])
	v.heapLast = medianHeap(after[len(after)-third:])
	v.heapGrowth = float64(v.heapLast)/float64(v.heapFirst) - 1
	v.heapFlat = v.heapGrowth <= tolerance
	return v, nil
}

func medianHeap(samples []sample) uint64 {
	heaps := make([]uint64, len(samples))
	for i, s := range samples {
		heaps[i] = s.liveHeap
	}
	slices.Sort(heaps)
	if n := len(heaps); n%2 == 0 {
		return (heaps[n/2-1] + heaps[n/2]) / 2
	}
	return heaps[len(heaps)/2]
}

func (v verdict) print(w io.Writer, tolerance float64) {
	word := map[bool]string{true: "PASS", false: "FAIL"}
	fmt.Fprintf(w, "\nverdict over %d samples after the warm-up:\n", v.samples)
	fmt.Fprintf(w, "  %s live heap flat: median %s in the first third, %s in the last, %+.1f%% (limit +%.0f%%); range %s … %s, spread %.1f%%\n",
		word[v.heapFlat], mib(v.heapFirst), mib(v.heapLast), 100*v.heapGrowth, 100*tolerance,
		mib(v.heapMin), mib(v.heapMax), 100*v.heapSpread)
	if v.seriesConstant {
		fmt.Fprintf(w, "  %s metric series constant: %d\n", word[true], v.seriesN)
	} else {
		fmt.Fprintf(w, "  %s metric series changed: %d … %d\n", word[false], v.seriesMin, v.seriesN)
	}
}
