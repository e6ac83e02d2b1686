package otelexec

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/statefulroute/sfotel/internal/redistest"
)

// BenchmarkBatchGetLinkedPod reads batches of 1k, 100k and 1M uids, every
// third one linked, and reports the bytes allocated per uid and the peak
// heap one call reached (sampled every millisecond), beside time per
// batch: the costs must grow linearly and the memory stay that of the
// result plus one chunk.
//
//	go test -run '^$' -bench BenchmarkBatchGetLinkedPod -benchtime 3x -count 6 ./otelexec > batch.txt
//	benchstat -col /uids batch.txt
func BenchmarkBatchGetLinkedPod(b *testing.B) {
	rdb := redistest.Client(b)
	ns := redistest.Namespace(b)
	const most = 1_000_000
	uids := manyUIDs(most)
	ctx := context.Background()
	for start := 0; start < most; start += 10_000 {
		pipe := rdb.Pipeline()
		for i := start; i < start+10_000; i += 3 {
			pipe.Set(ctx, linkKey(ns, uids[i], "game"), strconv.Itoa(i%8), 10*time.Minute)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	e, err := New(rdb, WithMeterProvider(metricnoop.NewMeterProvider()), WithTracerProvider(tracenoop.NewTracerProvider()))
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1_000, 100_000, most} {
		b.Run("uids="+strconv.Itoa(n), func(b *testing.B) {
			batch := uids[:n]
			var peak float64
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for b.Loop() {
				p := sampleHeap(func() {
					if _, err := e.BatchGetLinkedPod(ctx, ns, batch, "game"); err != nil {
						b.Fatal(err)
					}
				})
				peak = max(peak, float64(p-before.HeapAlloc))
			}
			b.StopTimer()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(n), "B/uid")
			b.ReportMetric(peak/(1<<20), "peak-MiB")
		})
	}
}

// sampleHeap runs f and returns the largest HeapAlloc seen while it ran.
func sampleHeap(f func()) uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	f()
	close(stop)
	wg.Wait()
	return peak.Load()
}
