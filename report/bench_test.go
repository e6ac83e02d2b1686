package report

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/statefulroute/sfotel/internal/contract"
)

// benchFixture is a collector after a load test of every operation: 15
// operations, two statuses, a few error types, lognormal latencies spanning
// four decades (hundreds of buckets per histogram), pool and cache metrics.
func benchFixture(b *testing.B, mpOpts ...sdkmetric.Option) *fixture {
	f := newFixtureWith(b, mpOpts)
	rng := rand.New(rand.NewPCG(5, 6))
	errorTypes := contract.ErrorTypes()
	for _, op := range contract.Operations() {
		for i := range 2000 {
			errType := ""
			if i%100 == 0 {
				errType = errorTypes[i/100%len(errorTypes)]
			}
			f.call(op, 300e-6*math.Exp(1.2*rng.NormFloat64()), errType)
		}
	}
	f.pool(12, 20, 50, 7, 0, 0.01)
	f.count(contract.MetricScriptCacheHits, 10000)
	f.count(contract.MetricScriptCacheMisses, 7)
	f.count(contract.MetricScriptCacheReloads, 7)
	f.connection(true)
	return f
}

// BenchmarkSnapshotExemplarsOff is BenchmarkSnapshot's snapshot+json with
// the SDK's exemplars turned off: sdk/metric v1.47 allocates an exemplar
// buffer per series on every collection while they are on, even when no
// exemplar was sampled.
func BenchmarkSnapshotExemplarsOff(b *testing.B) {
	f := benchFixture(b, sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s, err := f.c.Snapshot(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Report().WriteJSON(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshot measures a snapshot of 15 operations and its JSON
// rendering: what one GET /debug/report costs.
func BenchmarkSnapshot(b *testing.B) {
	f := benchFixture(b)
	ctx := context.Background()
	// The SDK's own collection, for scale: every reader pays it.
	b.Run("sdk-collect", func(b *testing.B) {
		b.ReportAllocs()
		var rm metricdata.ResourceMetrics
		for b.Loop() {
			if err := f.c.reader.Collect(ctx, &rm); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("snapshot", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, err := f.c.Snapshot(ctx)
			if err != nil {
				b.Fatal(err)
			}
			_ = s.Report()
		}
	})
	b.Run("snapshot+json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, err := f.c.Snapshot(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Report().WriteJSON(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	s, err := f.c.Snapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	r := s.Report()
	b.Run("text", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := r.WriteText(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("html", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := r.WriteHTML(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
}
