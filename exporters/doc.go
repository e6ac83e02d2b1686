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
//   - OTEL_BSP_SCHEDULE_DELAY (ms, default 5000), OTEL_BSP_EXPORT_TIMEOUT
//     (30000), OTEL_BSP_MAX_QUEUE_SIZE (2048, at most 2^20: the SDK
//     allocates the queue up front), OTEL_BSP_MAX_EXPORT_BATCH_SIZE (512,
//     at most the queue size), OTEL_METRIC_EXPORT_INTERVAL (60000) and
//     OTEL_METRIC_EXPORT_TIMEOUT (30000), each an integer ≥ 1: Setup checks
//     them and passes them to the batch span processors and the OTLP metric
//     reader. Setup builds no log pipeline, so OTEL_BLRP_* are not read.
//   - OTEL_EXPORTER_OTLP_PROTOCOL and _TRACES_/_METRICS_PROTOCOL (grpc,
//     http/protobuf; the Go metric exporter has no http/json, so neither
//     signal takes it) and _COMPRESSION (gzip, none), in any case.
//   - OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, the other
//     OTEL_EXPORTER_OTLP_* (read by the upstream exporters),
//     OTEL_TRACES_SAMPLER, OTEL_METRICS_EXEMPLAR_FILTER,
//     OTEL_GO_X_CARDINALITY_LIMIT.
//
// Enumerated values are read in any case, except the exporter names other
// than otlp, none and prometheus, which autoexport matches as registered.
// An invalid or unknown value is a warning through the global error
// handler (otel.Handle; otel.SetErrorHandler chooses where it goes) that
// names the variable, and the default applies, as the specification asks:
// the environment never fails Setup. An invalid Config field or option is
// an error that names it. The upstream exporters read most OTLP variables
// themselves; this package adds the choice of protocol and compression
// (which they read case-sensitively, or not at all) and shorter default
// export timeouts.
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
