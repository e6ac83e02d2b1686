package exporters

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/statefulroute/sfotel/internal/contract"
)

// discardExporter takes every batch and does nothing with it.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkSpanEnd compares span start+end through the SDK's batch
// processor alone and through Setup's pipeline (the queued-span counter in
// front, the guard behind), both to an exporter that discards.
func BenchmarkSpanEnd(b *testing.B) {
	variants := map[string]func() sdktrace.SpanProcessor{
		"bsp": func() sdktrace.SpanProcessor { return sdktrace.NewBatchSpanProcessor(discardExporter{}) },
		"setup": func() sdktrace.SpanProcessor {
			stats := &exportStats{}
			guard := &spanGuard{SpanExporter: discardExporter{}, stats: stats, health: &exportHealth{what: "span"}, abort: context.Background()}
			return countingProcessor{SpanProcessor: sdktrace.NewBatchSpanProcessor(guard), queued: &stats.spansQueued}
		},
	}
	for _, name := range []string{"bsp", "setup"} {
		b.Run(name, func(b *testing.B) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(variants[name]()))
			defer tp.Shutdown(context.Background())
			tr := tp.Tracer("bench")
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, s := tr.Start(ctx, contract.OpGetLinkedPod.String())
					s.End()
				}
			})
		})
	}
}

// BenchmarkScrape measures one /metrics scrape with every executor
// operation recorded under both statuses, with and without the Go and
// process collectors.
func BenchmarkScrape(b *testing.B) {
	for _, collectors := range []bool{false, true} {
		name := "otel-only"
		if collectors {
			name = "with-go-and-process"
		}
		b.Run(name, func(b *testing.B) {
			p, err := NewPrometheus(WithGoCollector(collectors), WithProcessCollector(collectors))
			if err != nil {
				b.Fatal(err)
			}
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(p))
			defer mp.Shutdown(context.Background())
			m := mp.Meter("bench")
			ops, _ := m.Int64Counter(contract.MetricOperations, metric.WithDescription("ops"))
			dur, _ := m.Float64Histogram(contract.MetricOperationDuration, metric.WithUnit("s"), metric.WithDescription("dur"))
			for _, op := range contract.Operations() {
				for _, st := range []string{contract.StatusOK, contract.StatusError} {
					ops.Add(context.Background(), 1, metric.WithAttributes(attribute.String(contract.AttrOperation, op), attribute.String(contract.AttrStatus, st)))
				}
				dur.Record(context.Background(), 0.001, metric.WithAttributes(attribute.String(contract.AttrOperation, op)))
			}
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				p.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
