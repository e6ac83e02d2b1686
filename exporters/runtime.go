package exporters

import (
	"context"
	"fmt"

	"go.opentelemetry.io/contrib/instrumentation/runtime"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
)

// runtimeMetrics records the OpenTelemetry Go runtime metrics
// (go.memory.used, go.goroutine.count, go.schedule.duration, ...) for the
// OTLP metric exporter only. They live on a MeterProvider of their own that
// the OTLP periodic reader reads as a producer, so the Prometheus reader
// (whose handler already serves client_golang's go_* series) and
// WithReader never see them: no backend gets the same runtime facts
// twice under two names.
type runtimeMetrics struct {
	mp     *sdkmetric.MeterProvider
	reader *sdkmetric.ManualReader
}

// newRuntimeMetrics starts the runtime instrumentation on a provider whose
// reader aggregates as exp asks (temporality, aggregation), so the data
// reaches the collector in the shape the rest of the export has.
func newRuntimeMetrics(res *resource.Resource, exp sdkmetric.Exporter) (*runtimeMetrics, error) {
	reader := sdkmetric.NewManualReader(
		sdkmetric.WithTemporalitySelector(exp.Temporality),
		sdkmetric.WithAggregationSelector(exp.Aggregation),
	)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(reader))
	if err := runtime.Start(runtime.WithMeterProvider(mp)); err != nil {
		_ = mp.Shutdown(context.Background())
		return nil, fmt.Errorf("exporters: Go runtime metrics: %w", err)
	}
	return &runtimeMetrics{mp: mp, reader: reader}, nil
}

// producers are what the OTLP periodic reader adds to each export.
func (r *runtimeMetrics) producers() []sdkmetric.PeriodicReaderOption {
	return []sdkmetric.PeriodicReaderOption{
		sdkmetric.WithProducer(r),
		sdkmetric.WithProducer(runtime.NewProducer()), // go.schedule.duration
	}
}

// Produce collects the runtime provider. Every call fills a fresh
// ResourceMetrics: the periodic reader may export one collection while it
// makes the next.
func (r *runtimeMetrics) Produce(ctx context.Context) ([]metricdata.ScopeMetrics, error) {
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(ctx, &rm); err != nil {
		return nil, err
	}
	return rm.ScopeMetrics, nil
}

func (r *runtimeMetrics) shutdown(ctx context.Context) error { return r.mp.Shutdown(ctx) }
