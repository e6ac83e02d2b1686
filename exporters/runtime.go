package exporters

import (
	"context"
	"fmt"

	"go.opentelemetry.io/contrib/instrumentation/runtime"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
)

// runtimeProducers starts the OpenTelemetry Go runtime metrics
// (go.memory.used, go.schedule.duration, ...) on a MeterProvider of their
// own that the OTLP reader reads as producers, so the Prometheus reader
// (whose handler has client_golang's go_* series) and WithReader's never
// see them. Its reader aggregates as exp asks; it runs no goroutine, so
// nothing is left to shut down once the OTLP reader stops reading it.
func runtimeProducers(res *resource.Resource, exp sdkmetric.Exporter) ([]sdkmetric.PeriodicReaderOption, error) {
	reader := sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(exp.Temporality), sdkmetric.WithAggregationSelector(exp.Aggregation))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(reader))
	if err := runtime.Start(runtime.WithMeterProvider(mp)); err != nil {
		return nil, fmt.Errorf("exporters: Go runtime metrics: %w", err)
	}
	return []sdkmetric.PeriodicReaderOption{
		sdkmetric.WithProducer(manualProducer{reader}),
		sdkmetric.WithProducer(runtime.NewProducer()), // go.schedule.duration
	}, nil
}

// manualProducer hands what a ManualReader collects to another reader, in a
// fresh ResourceMetrics each time: one may be exported while the next is made.
type manualProducer struct{ *sdkmetric.ManualReader }

func (p manualProducer) Produce(ctx context.Context) ([]metricdata.ScopeMetrics, error) {
	var rm metricdata.ResourceMetrics
	err := p.Collect(ctx, &rm)
	return rm.ScopeMetrics, err
}
