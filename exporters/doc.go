// Package exporters gets sfotel's telemetry out of the process: a Prometheus
// reader that is also the /metrics handler, OTLP trace and metric exporters
// over gRPC or HTTP/protobuf, and Setup, which builds the resource and both
// providers in one call and returns one Shutdown.
//
//	tel, err := exporters.Setup(ctx, exporters.Config{
//		ServiceName: "router",
//		Prometheus:  true,
//		SetGlobal:   true,
//	})
//	if err != nil { ... }
//	defer tel.Shutdown(context.Background())
//	http.Handle("/metrics", tel.Prometheus())
//
// Configuration follows the OpenTelemetry environment variables
// (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_*,
// OTEL_TRACES_SAMPLER, OTEL_BSP_*, OTEL_METRIC_EXPORT_*); Config fields and
// options override them. The upstream exporters read most variables
// themselves; this package adds the choice of protocol
// (OTEL_EXPORTER_OTLP_PROTOCOL and its per-signal variants, which the Go
// exporters leave to the caller) and shorter default export timeouts.
//
// Telemetry never holds up the code it measures: spans go through a batch
// processor that drops when its queue is full, exports are bounded by
// DefaultOTLPTimeout, and a collector that is down is logged once when it
// starts failing and once when it recovers, and counted in Stats and in the
// sfotel.exporter.spans.dropped counter. Shutdown returns within its
// context's deadline.
//
// ProtectHandler puts bearer-token or basic authentication in front of any
// handler, for /metrics as for /debug endpoints.
//
// Semantic-convention keys come from go.opentelemetry.io/otel/semconv/v1.43.0,
// the version the SDK's own resource detectors use, so resources merge
// without a schema conflict.
package exporters
