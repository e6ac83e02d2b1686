// Package exporters gets sfotel's telemetry out of the process: a Prometheus
// reader that is also the /metrics handler (OpenMetrics with exemplars to a
// scraper that asks), OTLP exporters over gRPC or HTTP/protobuf, and Setup,
// which builds the resource and both providers in one call and returns one
// Shutdown.
//
//	tel, err := exporters.Setup(ctx, exporters.WithServiceName("router"),
//		exporters.WithPrometheus(), exporters.WithGlobal())
//	if err != nil { ... }
//	defer tel.Shutdown(context.Background())
//	http.Handle("/metrics", tel.Prometheus())
//
// Setup follows the OpenTelemetry environment variables (docs/telemetry.md
// lists them); options, one Option type for Setup, NewPrometheus and the
// OTLP exporters, override them. An invalid option is an error naming it;
// an invalid variable is a warning naming it and the default applies.
//
// Telemetry never holds up the code it measures: spans go through a batch
// processor that drops when its queue is full, exports are bounded by
// DefaultOTLPTimeout, a collector outage is logged when it starts and ends
// and counted (Stats, sfotel.exporter.spans.dropped), and Shutdown returns
// within its context's deadline. Package httpauth guards /metrics or /debug
// handlers with bearer-token or basic authentication.
package exporters
