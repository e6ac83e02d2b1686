package exporters

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// config holds what the options set. Zero OTLP fields mean "the
// environment decides".
type config struct {
	serviceName, serviceVersion, namespace, endpoint string
	resourceAttributes                               []attribute.KeyValue
	registerer                                       prometheus.Registerer
	gatherer                                         prometheus.Gatherer
	protocol                                         Protocol
	headers                                          map[string]string
	maxInFlight, cardinalityLimit                    int
	scrapeTimeout, timeout, metricInterval           time.Duration
	views                                            []sdkmetric.View
	exemplarFilter                                   exemplar.Filter
	readers                                          []sdkmetric.Reader
	spanProcessors                                   []sdktrace.SpanProcessor
	sampler                                          sdktrace.Sampler
	logger                                           *slog.Logger
	errs                                             []error

	prometheus, goCollector, processCollector, scopeLabels, targetInfo, openMetrics bool
	insecure, disableOTLP, disableRuntimeMetrics, setGlobal                         bool
}

// Option configures Setup, NewPrometheus and the OTLP exporters. Each
// takes the options that concern it and ignores the others (an invalid one
// is an error in any), so one list can serve them all.
type Option func(*config)

// newConfig sets the defaults, applies opts and checks the result. An
// error names the option at fault.
func newConfig(opts []Option) (config, error) {
	c := config{goCollector: true, processCollector: true, targetInfo: true, openMetrics: true,
		logger: slog.Default(), maxInFlight: 4, scrapeTimeout: 10 * time.Second}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.registerer == nil && c.gatherer != nil {
		c.fail("WithGatherer: needs WithRegisterer too, or the OTel metrics would be registered where the handler does not look")
	}
	if c.disableOTLP && c.endpoint != "" {
		c.fail("WithoutOTLP contradicts WithEndpoint")
	} else if c.endpoint != "" {
		u, err := parseEndpoint(c.endpoint, c.insecure)
		c.endpoint, c.errs = u, append(c.errs, err) // errors.Join drops a nil
	}
	return c, errors.Join(c.errs...)
}

// fail records an invalid option; format starts with the option's name.
func (c *config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("exporters: "+format, args...))
}

// setIf sets *field to v if ok, else records the invalid option.
func setIf[T any](c *config, field *T, v T, ok bool, format string, args ...any) {
	if ok {
		*field = v
	} else {
		c.fail(format, args...)
	}
}

// orOld returns v, or old when v is nil or a nil pointer: the options that
// take an interface ignore nil, WithRegisterer((*prometheus.Registry)(nil))
// included.
func orOld[T any](v, old T) T {
	if rv := reflect.ValueOf(v); !rv.IsValid() || rv.Kind() == reflect.Pointer && rv.IsNil() {
		return old
	}
	return v
}

// WithServiceName sets service.name, which OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES override (default unknown_service:<exe>).
func WithServiceName(name string) Option { return func(c *config) { c.serviceName = name } }

// WithServiceVersion sets service.version, below the environment too.
func WithServiceVersion(v string) Option { return func(c *config) { c.serviceVersion = v } }

// WithResourceAttributes adds attrs to the resource, below the environment.
// Every attribute must be valid.
func WithResourceAttributes(attrs ...attribute.KeyValue) Option {
	return func(c *config) {
		for _, kv := range attrs {
			if !kv.Valid() {
				c.fail("WithResourceAttributes: invalid attribute %q", kv.Key)
				return
			}
		}
		c.resourceAttributes = append(c.resourceAttributes, attrs...)
	}
}

// WithPrometheus makes Setup add a Prometheus reader, served by
// Telemetry.Prometheus() and configured by the Prometheus options below.
func WithPrometheus() Option { return func(c *config) { c.prometheus = true } }

// WithRegisterer registers the OTel bridge and the Go and process
// collectors with r instead of a registry of their own; the handler serves
// r if it is a prometheus.Gatherer, else give WithGatherer. Avoid
// prometheus.DefaultRegisterer if others register there. nil is ignored.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(c *config) { c.registerer = orOld(r, c.registerer) }
}

// WithGatherer makes the handler serve g, which must gather what
// WithRegisterer's registerer holds, e.g. reg for
// prometheus.WrapRegistererWith(labels, reg). nil is ignored.
func WithGatherer(g prometheus.Gatherer) Option {
	return func(c *config) { c.gatherer = orOld(g, c.gatherer) }
}

// WithGoCollector adds (the default) or leaves out client_golang's Go
// collector (go_goroutines, go_memstats_*, go_gc_*), which dashboards
// expect on /metrics, with the runtime histograms and GC CPU time a fleet
// report reads (go_sched_latencies_seconds, go_cpu_classes_gc_*). The OTel
// runtime metrics go to OTLP only.
func WithGoCollector(on bool) Option { return func(c *config) { c.goCollector = on } }

// WithProcessCollector adds (the default) or leaves out the process
// collector (process_cpu_seconds_total, process_resident_memory_bytes, ...).
func WithProcessCollector(on bool) Option { return func(c *config) { c.processCollector = on } }

// WithScopeLabels adds or leaves out (the default) the otel_scope_* labels
// on every series: an sfotel metric's name already shows its scope.
func WithScopeLabels(on bool) Option { return func(c *config) { c.scopeLabels = on } }

// WithTargetInfo adds (the default) or leaves out the target_info series,
// which carries the resource attributes for a dashboard to join on.
func WithTargetInfo(on bool) Option { return func(c *config) { c.targetInfo = on } }

// WithOpenMetricsFormat lets a scraper that asks get OpenMetrics, which
// carries exemplars (the default), or keeps the classic format. A Prometheus
// before 3.0 that switches sees the integer buckets (le="1" vs "1.0") as
// new series (docs/dashboards.md).
func WithOpenMetricsFormat(on bool) Option { return func(c *config) { c.openMetrics = on } }

// validNamespace is a Prometheus metric name prefix.
var validNamespace = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// WithNamespace prefixes every OTel metric name with ns and an underscore;
// empty (the default, which the dashboard contract assumes) means none.
func WithNamespace(ns string) Option {
	return func(c *config) {
		setIf(c, &c.namespace, ns, ns == "" || validNamespace.MatchString(ns), "WithNamespace: %q is not a metric name prefix; want [a-zA-Z_][a-zA-Z0-9_]*", ns)
	}
}

// WithScrapeLimits bounds concurrent scrapes (503 beyond maxInFlight) and
// the time one scrape may take (then 503). Defaults 4 and 10 s; both > 0.
func WithScrapeLimits(maxInFlight int, timeout time.Duration) Option {
	return func(c *config) {
		setIf(c, &c.maxInFlight, maxInFlight, maxInFlight > 0, "WithScrapeLimits: maxInFlight must be > 0, got %d", maxInFlight)
		setIf(c, &c.scrapeTimeout, timeout, timeout > 0, "WithScrapeLimits: timeout must be > 0, got %v", timeout)
	}
}

// WithProtocol chooses the transport, overriding OTEL_EXPORTER_OTLP_PROTOCOL.
// It is grpc or http/protobuf, in any case; empty leaves it to the variable.
func WithProtocol(p Protocol) Option {
	return func(c *config) {
		p = Protocol(strings.ToLower(string(p)))
		setIf(c, &c.protocol, p, p == "" || p == ProtocolGRPC || p == ProtocolHTTPProtobuf,
			"WithProtocol: unknown OTLP protocol %q; want %q or %q (http/json is not supported by the Go OTLP exporters)", p, ProtocolGRPC, ProtocolHTTPProtobuf)
	}
}

// WithEndpoint sets the collector's base endpoint, overriding
// OTEL_EXPORTER_OTLP_ENDPOINT: "https://host:port[/path]",
// "http://host:port[/path]" (loopback only unless WithInsecureTransport) or
// "host:port" (TLS unless WithInsecureTransport). HTTP appends /v1/traces
// and /v1/metrics to the path.
func WithEndpoint(endpoint string) Option { return func(c *config) { c.endpoint = endpoint } }

// WithInsecureTransport(true) sends without TLS to any host; false (the
// default) leaves TLS to the endpoint's form.
func WithInsecureTransport(on bool) Option { return func(c *config) { c.insecure = on } }

// WithHeaders sends h with every export (gRPC metadata), replacing
// OTEL_EXPORTER_OTLP_HEADERS. Header names must not be empty.
func WithHeaders(h map[string]string) Option {
	return func(c *config) {
		_, empty := h[""]
		setIf(c, &c.headers, h, !empty, "WithHeaders: a header name is empty")
	}
}

// WithTimeout bounds one export, retries included, overriding
// OTEL_EXPORTER_OTLP_TIMEOUT. It must be > 0.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { setIf(c, &c.timeout, d, d > 0, "WithTimeout: must be > 0, got %v", d) }
}

// WithoutOTLP ignores the OTLP environment: no OTLP exporter at all. It
// contradicts WithEndpoint.
func WithoutOTLP() Option { return func(c *config) { c.disableOTLP = true } }

// WithMetricInterval sets the OTLP metric export interval; zero means
// OTEL_METRIC_EXPORT_INTERVAL, else 60 s. It must not be negative.
func WithMetricInterval(d time.Duration) Option {
	return func(c *config) {
		setIf(c, &c.metricInterval, d, d >= 0, "WithMetricInterval: must not be negative, got %v", d)
	}
}

// WithoutRuntimeMetrics leaves out the OpenTelemetry Go runtime metrics
// (go.memory.used, go.goroutine.count, ...) that otherwise go with the OTLP
// metrics, and only there (/metrics has WithGoCollector's go_* series).
func WithoutRuntimeMetrics() Option { return func(c *config) { c.disableRuntimeMetrics = true } }

// WithView adds views (sdkmetric.NewView) that apply to every reader.
func WithView(views ...sdkmetric.View) Option {
	return func(c *config) { c.views = append(c.views, views...) }
}

// WithCardinalityLimit sets the most series one instrument keeps per
// collection (the rest fold into one with otel.metric.overflow=true); zero
// means OTEL_GO_X_CARDINALITY_LIMIT, else DefaultCardinalityLimit; >= 0.
func WithCardinalityLimit(n int) Option {
	return func(c *config) {
		setIf(c, &c.cardinalityLimit, n, n >= 0, "WithCardinalityLimit: must be >= 0 (0: the default, %d), got %d", DefaultCardinalityLimit, n)
	}
}

// WithExemplarFilter chooses which measurements may become exemplars,
// overriding OTEL_METRICS_EXEMPLAR_FILTER; the default,
// exemplar.TraceBasedFilter, keeps those made inside a sampled span.
func WithExemplarFilter(f exemplar.Filter) Option { return func(c *config) { c.exemplarFilter = f } }

// WithReader adds a metric reader, e.g. the report collector's. nil is ignored.
func WithReader(r sdkmetric.Reader) Option {
	return func(c *config) {
		if r != nil {
			c.readers = append(c.readers, r)
		}
	}
}

// WithSpanProcessor adds a span processor, e.g. a test recorder. nil is ignored.
func WithSpanProcessor(sp sdktrace.SpanProcessor) Option {
	return func(c *config) {
		if sp != nil {
			c.spanProcessors = append(c.spanProcessors, sp)
		}
	}
}

// WithSampler overrides OTEL_TRACES_SAMPLER(_ARG); with neither, spans are
// sampled parent-based, always on.
func WithSampler(s sdktrace.Sampler) Option { return func(c *config) { c.sampler = s } }

// WithGlobal installs the providers and Telemetry.Propagator as the otel
// globals.
func WithGlobal() Option { return func(c *config) { c.setGlobal = true } }

// WithLogger sets the logger (default slog.Default(); nil is ignored) for
// what a person must act on: an OTLP outage and its end, a failed resource
// detector, a failed scrape. Ignored environment values go to otel.Handle.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = orOld(l, c.logger) }
}
