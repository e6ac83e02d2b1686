package exporters

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
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
	serviceName, serviceVersion string
	resourceAttributes          []attribute.KeyValue

	prometheus                                                          bool
	registerer                                                          prometheus.Registerer
	gatherer                                                            prometheus.Gatherer
	goCollector, processCollector, scopeLabels, targetInfo, openMetrics bool
	namespace                                                           string
	maxInFlight                                                         int
	scrapeTimeout                                                       time.Duration

	protocol              Protocol
	endpoint              string
	insecure              bool
	headers               map[string]string
	timeout               time.Duration
	disableOTLP           bool
	metricInterval        time.Duration
	disableRuntimeMetrics bool

	views            []sdkmetric.View
	cardinalityLimit int
	exemplarFilter   exemplar.Filter
	readers          []sdkmetric.Reader
	spanProcessors   []sdktrace.SpanProcessor
	sampler          sdktrace.Sampler
	setGlobal        bool
	logger           *slog.Logger

	errs []error
}

// Option configures Setup, NewPrometheus and the OTLP exporters. Each
// takes the options that concern it and ignores the others, so one list
// can serve them all.
type Option func(*config)

// newConfig sets the defaults, applies opts and checks the result. An
// error names the option at fault.
func newConfig(opts []Option) (config, error) {
	c := config{
		goCollector:      true,
		processCollector: true,
		targetInfo:       true,
		openMetrics:      true,
		logger:           slog.Default(),
		maxInFlight:      4,
		scrapeTimeout:    10 * time.Second,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.registerer == nil && c.gatherer != nil {
		c.errs = append(c.errs, errors.New("exporters: WithGatherer: needs WithRegisterer too, or the OTel metrics would be registered where the handler does not look"))
	}
	if c.disableOTLP && c.endpoint != "" {
		c.errs = append(c.errs, errors.New("exporters: WithoutOTLP contradicts WithEndpoint"))
	}
	return c, errors.Join(c.errs...)
}

// WithServiceName and WithServiceVersion set service.name and
// service.version. OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override
// them; with neither, service.name is unknown_service:<exe>.
func WithServiceName(name string) Option {
	return func(c *config) { c.serviceName = name }
}

// WithServiceVersion: see WithServiceName.
func WithServiceVersion(version string) Option {
	return func(c *config) { c.serviceVersion = version }
}

// WithResourceAttributes adds attrs to the resource (below the
// environment). Every attribute must be valid.
func WithResourceAttributes(attrs ...attribute.KeyValue) Option {
	return func(c *config) {
		for _, kv := range attrs {
			if !kv.Valid() {
				c.errs = append(c.errs, fmt.Errorf("exporters: WithResourceAttributes: invalid attribute %q", kv.Key))
				return
			}
		}
		c.resourceAttributes = append(c.resourceAttributes, attrs...)
	}
}

// WithPrometheus makes Setup add a Prometheus reader, served by
// Telemetry.Prometheus(), configured by the Prometheus options below.
func WithPrometheus() Option {
	return func(c *config) { c.prometheus = true }
}

// isNil reports whether v is nil or an interface holding a nil pointer,
// so WithRegisterer((*prometheus.Registry)(nil)) is ignored like nil.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func:
		return rv.IsNil()
	}
	return false
}

// WithRegisterer makes the exporter register the OTel bridge (and the Go and
// process collectors) with r instead of a registry of its own, so an
// application can serve its own collectors and the OTel instruments from one
// handler. The handler serves r when r is also a prometheus.Gatherer (a
// *prometheus.Registry is both); otherwise give WithGatherer too, e.g. for
// prometheus.WrapRegistererWith(labels, reg) pass WithGatherer(reg). Do not
// pass prometheus.DefaultRegisterer if anything else registers there too,
// or names may collide. nil is ignored.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(c *config) {
		if !isNil(r) {
			c.registerer = r
		}
	}
}

// WithGatherer makes the handler serve g, which must gather what the
// registerer of WithRegisterer registers (the handler has no other way to
// reach the OTel metrics). It is needed only when that registerer is not a
// Gatherer itself. nil is ignored.
func WithGatherer(g prometheus.Gatherer) Option {
	return func(c *config) {
		if !isNil(g) {
			c.gatherer = g
		}
	}
}

// WithGoCollector adds or leaves out the Go runtime collector (go_goroutines,
// go_memstats_*, go_gc_*). On by default, as on every Go /metrics endpoint
// served by client_golang's default handler: dashboards expect it, and it
// costs nothing until a scrape. The OTel runtime metrics (go.memory.used,
// go.goroutine.count, ...) go to OTLP only, so /metrics never shows the same
// facts twice (see WithoutRuntimeMetrics).
func WithGoCollector(on bool) Option {
	return func(c *config) { c.goCollector = on }
}

// WithProcessCollector adds or leaves out the process collector
// (process_cpu_seconds_total, process_resident_memory_bytes,
// process_open_fds, ...). On by default, for the same reason as
// WithGoCollector.
func WithProcessCollector(on bool) Option {
	return func(c *config) { c.processCollector = on }
}

// WithScopeLabels adds or leaves out the otel_scope_name,
// otel_scope_version (and otel_scope_schema_url) labels on every series.
// Off by default: the dashboard contract's label sets are
// {operation,status} and so on, and the scope of an sfotel metric already
// shows in its name.
func WithScopeLabels(on bool) Option {
	return func(c *config) { c.scopeLabels = on }
}

// WithTargetInfo adds or leaves out the target_info series that carries
// the resource attributes (service.name, host.name, ...) as labels. On by
// default: it is one series, and it lets a dashboard join on the service.
func WithTargetInfo(on bool) Option {
	return func(c *config) { c.targetInfo = on }
}

// WithOpenMetricsFormat lets a scraper negotiate the OpenMetrics text format,
// the only one that carries exemplars (the trace ID of a sampled call on
// the histogram bucket it fell in), or leaves the handler on the classic
// text format whatever the scraper asks for. On by default: a scraper gets
// OpenMetrics only when its Accept header asks for it, as Prometheus does.
//
// One thing changes with the format: OpenMetrics writes integer bucket
// bounds as le="1.0" where the classic format writes le="1". A Prometheus
// before 3.0 stores them as they come, so when an existing server switches
// from one format to the other, the series of the buckets at 1 s, 5 s and
// so on get a new identity. histogram_quantile, rate and sum by (le) treat
// both as the same bound; only a selector on one integer le (le="1") sees a
// gap. docs/dashboards.md has the measurement. Prometheus 3 normalises le
// itself.
func WithOpenMetricsFormat(on bool) Option {
	return func(c *config) { c.openMetrics = on }
}

// validNamespace is a Prometheus metric name prefix.
var validNamespace = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// WithNamespace prefixes every OTel metric name with ns and an underscore.
// Empty means no prefix (the default). The dashboard contract's names assume
// no prefix. ns must be a valid metric name prefix, [a-zA-Z_][a-zA-Z0-9_]*.
func WithNamespace(ns string) Option {
	return func(c *config) {
		if ns != "" && !validNamespace.MatchString(ns) {
			c.errs = append(c.errs, fmt.Errorf("exporters: WithNamespace: %q is not a metric name prefix; want [a-zA-Z_][a-zA-Z0-9_]*", ns))
			return
		}
		c.namespace = ns
	}
}

// WithScrapeLimits bounds concurrent scrapes (answered 503 beyond
// maxInFlight) and the time one scrape may take before it is answered 503.
// The defaults are 4 and 10 s; both must be > 0.
func WithScrapeLimits(maxInFlight int, timeout time.Duration) Option {
	return func(c *config) {
		if maxInFlight <= 0 {
			c.errs = append(c.errs, fmt.Errorf("exporters: WithScrapeLimits: maxInFlight must be > 0, got %d", maxInFlight))
		}
		if timeout <= 0 {
			c.errs = append(c.errs, fmt.Errorf("exporters: WithScrapeLimits: timeout must be > 0, got %v", timeout))
		}
		if maxInFlight > 0 && timeout > 0 {
			c.maxInFlight, c.scrapeTimeout = maxInFlight, timeout
		}
	}
}

// WithProtocol chooses the transport, overriding OTEL_EXPORTER_OTLP_PROTOCOL.
func WithProtocol(p Protocol) Option {
	return func(c *config) { c.protocol = p }
}

// WithEndpoint sets the collector's base endpoint, overriding
// OTEL_EXPORTER_OTLP_ENDPOINT: "https://host:port", "http://host:port" or
// "host:port" (TLS unless WithInsecureTransport). For http/protobuf the
// signal path (/v1/traces, /v1/metrics) is appended to the URL's path.
// Plain-text http:// is accepted on a loopback host (127.0.0.0/8, ::1,
// localhost) without WithInsecureTransport; on any other host it needs
// WithInsecureTransport(true), so a typo never sends telemetry unencrypted
// across a network.
func WithEndpoint(endpoint string) Option {
	return func(c *config) { c.endpoint = endpoint }
}

// WithInsecureTransport(true) sends telemetry without TLS, to any host.
// false, the default, leaves TLS to the endpoint: https:// and host:port
// use TLS, http:// is allowed to a loopback host only.
func WithInsecureTransport(on bool) Option {
	return func(c *config) { c.insecure = on }
}

// WithHeaders sends h as headers (gRPC metadata) with every export, e.g. an
// API key, replacing those of OTEL_EXPORTER_OTLP_HEADERS. Header names must
// not be empty.
func WithHeaders(h map[string]string) Option {
	return func(c *config) {
		for k := range h {
			if k == "" {
				c.errs = append(c.errs, errors.New("exporters: WithHeaders: a header name is empty"))
				return
			}
		}
		c.headers = h
	}
}

// WithTimeout bounds one export, retries included, overriding
// OTEL_EXPORTER_OTLP_TIMEOUT. It must be > 0.
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("exporters: WithTimeout: must be > 0, got %v", d))
			return
		}
		c.timeout = d
	}
}

// WithoutOTLP ignores the OTLP environment: no OTLP exporter at all. It
// contradicts WithEndpoint.
func WithoutOTLP() Option {
	return func(c *config) { c.disableOTLP = true }
}

// WithMetricInterval sets the OTLP metric export interval; zero means
// OTEL_METRIC_EXPORT_INTERVAL, else 60 s. It must not be negative.
func WithMetricInterval(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("exporters: WithMetricInterval: must not be negative, got %v", d))
			return
		}
		c.metricInterval = d
	}
}

// WithoutRuntimeMetrics leaves out the OpenTelemetry Go runtime metrics
// (go.memory.used, go.goroutine.count, go.schedule.duration, ...), which
// otherwise go with the OTLP metrics. They never go to the Prometheus
// reader or to WithReader's readers: /metrics serves client_golang's go_*
// series instead (WithGoCollector).
func WithoutRuntimeMetrics() Option {
	return func(c *config) { c.disableRuntimeMetrics = true }
}

// WithView adds views that change what the MeterProvider records
// (sdkmetric.NewView): rename an instrument, drop attributes, choose other
// buckets. They apply to every reader.
func WithView(views ...sdkmetric.View) Option {
	return func(c *config) { c.views = append(c.views, views...) }
}

// WithCardinalityLimit sets the most series one instrument keeps per
// collection (sdkmetric.WithCardinalityLimit); the rest are folded into one
// series with otel.metric.overflow=true. Zero means
// OTEL_GO_X_CARDINALITY_LIMIT, else DefaultCardinalityLimit (2000). It must
// not be negative. Telemetry.CardinalityLimit reports the value in force,
// for instrumentation that budgets its own series.
func WithCardinalityLimit(n int) Option {
	return func(c *config) {
		if n < 0 {
			c.errs = append(c.errs, fmt.Errorf("exporters: WithCardinalityLimit: must be >= 0 (0: the default, %d), got %d", DefaultCardinalityLimit, n))
			return
		}
		c.cardinalityLimit = n
	}
}

// WithExemplarFilter chooses which measurements may become exemplars
// (sdkmetric.WithExemplarFilter). Without it, OTEL_METRICS_EXEMPLAR_FILTER
// decides, else exemplar.TraceBasedFilter: measurements made inside a
// sampled span, whose trace ID then links a histogram bucket to its trace.
func WithExemplarFilter(f exemplar.Filter) Option {
	return func(c *config) { c.exemplarFilter = f }
}

// WithReader adds a further metric reader, e.g. the report collector's.
// nil is ignored.
func WithReader(r sdkmetric.Reader) Option {
	return func(c *config) {
		if r != nil {
			c.readers = append(c.readers, r)
		}
	}
}

// WithSpanProcessor adds a further span processor, e.g. a test recorder.
// nil is ignored.
func WithSpanProcessor(sp sdktrace.SpanProcessor) Option {
	return func(c *config) {
		if sp != nil {
			c.spanProcessors = append(c.spanProcessors, sp)
		}
	}
}

// WithSampler overrides OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG; with
// neither, spans are sampled parent-based, always on.
func WithSampler(s sdktrace.Sampler) Option {
	return func(c *config) { c.sampler = s }
}

// WithGlobal installs the providers and the propagator
// (Telemetry.Propagator: OTEL_PROPAGATORS, else W3C trace context and
// baggage) as the otel globals.
func WithGlobal() Option {
	return func(c *config) { c.setGlobal = true }
}

// WithLogger sets the logger for the few events a person must act on (an
// OTLP outage and its end, a resource detector that failed, a Prometheus
// collector that failed during a scrape). The default is slog.Default();
// nil is ignored. An environment value that is ignored goes to otel.Handle
// instead, as the specification asks.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}
