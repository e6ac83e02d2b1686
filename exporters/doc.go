// Package exporters gets sfotel's telemetry out of the process: a Prometheus
// reader that is also the /metrics handler (OpenMetrics with exemplars to a
// scraper that asks), OTLP trace and metric exporters over gRPC or
// HTTP/protobuf, and Setup, which builds the resource and both providers in
// one call and returns one Shutdown.
//
//	tel, err := exporters.Setup(ctx,
//		exporters.WithServiceName("router"),
//		exporters.WithPrometheus(),
//		exporters.WithGlobal(),
//	)
//	if err != nil { ... }
//	defer tel.Shutdown(context.Background())
//	http.Handle("/metrics", tel.Prometheus())
//
// Setup follows the OpenTelemetry environment variables (OTEL_SDK_DISABLED,
// OTEL_PROPAGATORS, OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_*, OTEL_BSP_*,
// ...; docs/telemetry.md lists them); options override them where both
// exist. Enumerated values are read in any case; an invalid or unknown value
// is a warning through otel.Handle that names the variable, and the default
// applies: the environment never fails Setup. An invalid option is an error
// that names it. One Option type serves Setup,
// NewPrometheus and the OTLP exporters; each ignores the options that do
// not concern it.
//
// Telemetry never holds up the code it measures: spans go through a batch
// processor that drops when its queue is full, exports are bounded by
// DefaultOTLPTimeout, a collector that is down is logged once when it starts
// failing and once when it recovers, and counted (Stats, the
// sfotel.exporter.spans.dropped counter); Shutdown returns within its
// context's deadline. Package httpauth puts bearer-token or basic
// authentication in front of /metrics or /debug handlers. docs/telemetry.md
// in the repository has every variable and what reaches which backend.
package exporters
