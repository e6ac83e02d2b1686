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
// Configuration follows the OpenTelemetry environment variables; Config
// fields and options override them where both exist:
//
//   - OTEL_SDK_DISABLED=true: nothing is recorded or exported; tracers are
//     no-ops that pass an incoming trace context through, and the
//     propagator is still installed.
//   - OTEL_PROPAGATORS (autoprop: tracecontext, baggage, b3, b3multi,
//     jaeger, xray, ottrace, none); unset means tracecontext,baggage.
//   - OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER: otlp (sfotel's own
//     exporter, which Config.OTLPEndpoint and the OTLPOptions configure),
//     none, or any name autoexport knows (console, prometheus, and names
//     registered with autoexport). Unset, a signal goes over OTLP when an
//     endpoint is configured, and nowhere otherwise.
//   - OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_*,
//     OTEL_TRACES_SAMPLER, OTEL_BSP_*, OTEL_METRIC_EXPORT_*,
//     OTEL_METRICS_EXEMPLAR_FILTER, OTEL_GO_X_CARDINALITY_LIMIT.
//
// An unknown value of a selection variable is logged and ignored, as the
// specification asks; an invalid Config field or option is an error that
// names it. The upstream exporters read most OTLP variables themselves;
// this package adds the choice of protocol (OTEL_EXPORTER_OTLP_PROTOCOL and
// its per-signal variants, which the Go exporters leave to the caller) and
// shorter default export timeouts.
//
// Telemetry never holds up the code it measures: spans go through a batch
// processor that drops when its queue is full, exports are bounded by
// DefaultOTLPTimeout, and a collector that is down is logged once when it
// starts failing and once when it recovers, and counted in Stats and in the
// sfotel.exporter.spans.dropped counter. Shutdown returns within its
// context's deadline.
//
// The Prometheus handler serves the OpenMetrics format to a scraper that
// asks for it, with exemplars: the trace ID of a sampled call on the
// latency bucket it fell in, the link from a slow bucket to its trace. The
// Go runtime metrics go to OTLP as OpenTelemetry's go.* metrics and to
// /metrics as client_golang's go_* series, never both to one place.
//
// ProtectHandler puts bearer-token or basic authentication in front of any
// handler, for /metrics as for /debug endpoints.
//
// Semantic-convention keys come from go.opentelemetry.io/otel/semconv/v1.43.0,
// the version the SDK's own resource detectors use, so resources merge
// without a schema conflict.
package exporters
