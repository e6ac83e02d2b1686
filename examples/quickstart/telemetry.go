package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/statefulroute/sfotel/exporters"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/redisinstr"
	"github.com/statefulroute/sfotel/report"
)

// serviceName is service.name unless OTEL_SERVICE_NAME says otherwise.
const serviceName = "sfotel-quickstart"

// telemetry is everything the run measures with: one MeterProvider feeding
// the Prometheus bridge, the report collector and (if asked) OTLP, one
// TracerProvider, and the Redis client's instrumentation.
type telemetry struct {
	exporters *exporters.Telemetry
	report    *report.Collector
	redis     *redisinstr.Instrumentation

	commandSpans bool // redisinstr records a span per command
}

func setupTelemetry(ctx context.Context, cfg config, b *backend, logger *slog.Logger) (*telemetry, error) {
	rdb := b.client
	var ropts []report.Option
	if b.embedded != nil {
		ropts = append(ropts, report.WithEmbeddedRedis("miniredis"))
	}
	// Traces exported over OTLP land in the e2e run's Jaeger: link the
	// slowest calls there; without OTLP there is nothing to link to.
	if cfg.otlpEndpoint != "" {
		ropts = append(ropts, report.WithTraceURLTemplate(report.JaegerTraceURLTemplate))
	}
	coll, err := report.NewCollector(ropts...)
	if err != nil {
		return nil, err
	}
	t := &telemetry{report: coll, commandSpans: cfg.commandSpans}
	opts := []exporters.Option{
		exporters.WithServiceName(serviceName),
		exporters.WithServiceVersion(otelexec.Version),
		exporters.WithPrometheus(),
		// The exporter serves OpenMetrics, with exemplars, to a scraper
		// that asks for it, unless -exemplars=false.
		exporters.WithOpenMetricsFormat(cfg.exemplars),
		exporters.WithReader(t.report.Reader()),
		exporters.WithLogger(logger),
	}
	// The -otlp flag already defaults to OTEL_EXPORTER_OTLP_ENDPOINT, so an
	// empty flag means no OTLP, even if other OTEL_* variables are set.
	if cfg.otlpEndpoint == "" {
		opts = append(opts, exporters.WithoutOTLP())
	} else {
		opts = append(opts, exporters.WithEndpoint(cfg.otlpEndpoint))
	}
	t.exporters, err = exporters.Setup(ctx, opts...)
	if err != nil {
		return nil, err
	}
	t.redis, err = redisinstr.Instrument(rdb,
		redisinstr.WithMeterProvider(t.exporters.MeterProvider()),
		redisinstr.WithTracerProvider(t.exporters.TracerProvider()),
		redisinstr.WithCommandSpans(cfg.commandSpans),
	)
	if err != nil {
		return nil, errors.Join(err, t.exporters.Shutdown(ctx))
	}
	return t, nil
}

// executorOptions point the executor at this run's providers.
func (t *telemetry) executorOptions(logger *slog.Logger) []otelexec.Option {
	return []otelexec.Option{
		otelexec.WithTracerProvider(t.exporters.TracerProvider()),
		otelexec.WithMeterProvider(t.exporters.MeterProvider()),
		// The command spans redisinstr records on the same client.
		otelexec.WithRedisCommandSpans(t.commandSpans),
		otelexec.WithLogger(logger),
	}
}

// shutdown stops the prober and flushes every exporter, within ctx.
func (t *telemetry) shutdown(ctx context.Context) error {
	return errors.Join(t.redis.Close(), t.exporters.Shutdown(ctx))
}
