package redisinstr

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/statefulroute/sfotel/internal/redistest"
)

// discardProcessor keeps spans recording (as with any real exporter) and
// then drops them, so span cost is measured without export cost.
type discardProcessor struct{}

func (discardProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discardProcessor) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discardProcessor) Shutdown(context.Context) error                  { return nil }
func (discardProcessor) ForceFlush(context.Context) error                { return nil }

// BenchmarkCommand measures the CPU and allocations one GET costs through
// each instrumentation, on a client whose innermost hook answers without
// I/O: the figures are the hooks' cost plus go-redis's own command path
// (the "none" case), not network time.
func BenchmarkCommand(b *testing.B) {
	addr := redistest.Addr(b)
	for _, bc := range []struct {
		name       string
		instrument func(b *testing.B, c *redis.Client, mp *sdkmetric.MeterProvider, tp *sdktrace.TracerProvider)
	}{
		{"none", func(*testing.B, *redis.Client, *sdkmetric.MeterProvider, *sdktrace.TracerProvider) {}},
		{"redisinstr", func(b *testing.B, c *redis.Client, mp *sdkmetric.MeterProvider, tp *sdktrace.TracerProvider) {
			instrument(b, c, WithMeterProvider(mp), WithTracerProvider(tp))
		}},
		{"redisinstr+spans", func(b *testing.B, c *redis.Client, mp *sdkmetric.MeterProvider, tp *sdktrace.TracerProvider) {
			instrument(b, c, WithMeterProvider(mp), WithTracerProvider(tp), WithCommandSpans(true))
		}},
		{"redisotel-metrics", func(b *testing.B, c *redis.Client, mp *sdkmetric.MeterProvider, _ *sdktrace.TracerProvider) {
			must(b, redisotel.InstrumentMetrics(c, redisotel.WithMeterProvider(mp)))
		}},
		{"redisotel-defaults", func(b *testing.B, c *redis.Client, mp *sdkmetric.MeterProvider, tp *sdktrace.TracerProvider) {
			must(b, redisotel.InstrumentTracing(c, redisotel.WithTracerProvider(tp)))
			must(b, redisotel.InstrumentMetrics(c, redisotel.WithMeterProvider(mp)))
		}},
		{"redisotel-lean", func(b *testing.B, c *redis.Client, mp *sdkmetric.MeterProvider, tp *sdktrace.TracerProvider) {
			must(b, redisotel.InstrumentTracing(c, redisotel.WithTracerProvider(tp),
				redisotel.WithCallerEnabled(false), redisotel.WithDBStatement(false)))
			must(b, redisotel.InstrumentMetrics(c, redisotel.WithMeterProvider(mp)))
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := redis.NewClient(&redis.Options{Addr: addr})
			b.Cleanup(func() { _ = c.Close() })
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discardProcessor{}))
			b.Cleanup(func() { _ = mp.Shutdown(context.Background()); _ = tp.Shutdown(context.Background()) })
			bc.instrument(b, c, mp, tp)
			c.AddHook(noIOHook{}) // innermost: added last
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := c.Get(ctx, "bench").Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func instrument(b *testing.B, c *redis.Client, opts ...Option) {
	inst, err := Instrument(c, append(opts, WithProbeInterval(time.Hour))...)
	must(b, err)
	b.Cleanup(func() { _ = inst.Close() })
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCollect measures one collection of the pool and status metrics
// of one client (main and pipeline pool): the cost a scrape adds.
func BenchmarkCollect(b *testing.B) {
	c := redis.NewClient(&redis.Options{Addr: redistest.Addr(b)})
	b.Cleanup(func() { _ = c.Close() })
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	instrument(b, c, WithMeterProvider(mp), WithCommandMetrics(false))
	ctx := context.Background()
	var rm metricdata.ResourceMetrics
	b.ReportAllocs()
	for b.Loop() {
		if err := reader.Collect(ctx, &rm); err != nil {
			b.Fatal(err)
		}
	}
}
