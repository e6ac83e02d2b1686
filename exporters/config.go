package exporters

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// promConfig holds what the PrometheusOptions set. newPromConfig fills in the
// defaults first.
type promConfig struct {
	registerer       prometheus.Registerer
	gatherer         prometheus.Gatherer
	goCollector      bool
	processCollector bool
	scopeLabels      bool
	targetInfo       bool
	openMetrics      bool
	namespace        string
	logger           *slog.Logger
	maxInFlight      int
	scrapeTimeout    time.Duration
	errs             []error
}

// PrometheusOption configures NewPrometheus.
type PrometheusOption interface {
	applyProm(*promConfig)
}

type promOptionFunc func(*promConfig)

func (f promOptionFunc) applyProm(c *promConfig) { f(c) }

// newPromConfig sets the defaults, applies opts and checks the result. An
// error names the option at fault.
func newPromConfig(opts []PrometheusOption) (promConfig, error) {
	c := promConfig{
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
			o.applyProm(&c)
		}
	}
	switch {
	case c.registerer == nil && c.gatherer != nil:
		c.errs = append(c.errs, errors.New("exporters: WithGatherer: needs WithRegisterer too, or the OTel metrics would be registered where the handler does not look"))
	case c.registerer == nil:
		reg := prometheus.NewRegistry()
		c.registerer, c.gatherer = reg, reg
	case c.gatherer == nil:
		g, ok := c.registerer.(prometheus.Gatherer)
		if !ok {
			c.errs = append(c.errs, fmt.Errorf("exporters: WithRegisterer: %T is not a prometheus.Gatherer; give WithGatherer the registry it registers with", c.registerer))
		}
		c.gatherer = g
	}
	return c, errors.Join(c.errs...)
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
func WithRegisterer(r prometheus.Registerer) PrometheusOption {
	return promOptionFunc(func(c *promConfig) {
		if !isNil(r) {
			c.registerer = r
		}
	})
}

// WithGatherer makes the handler serve g, which must gather what the
// registerer of WithRegisterer registers (the handler has no other way to
// reach the OTel metrics). It is needed only when that registerer is not a
// Gatherer itself. nil is ignored.
func WithGatherer(g prometheus.Gatherer) PrometheusOption {
	return promOptionFunc(func(c *promConfig) {
		if !isNil(g) {
			c.gatherer = g
		}
	})
}

// WithGoCollector adds or leaves out the Go runtime collector (go_goroutines,
// go_memstats_*, go_gc_*). On by default, as on every Go /metrics endpoint
// served by client_golang's default handler: dashboards expect it, and it
// costs nothing until a scrape. The OTel runtime metrics (go.memory.used,
// go.goroutine.count, ...) go to OTLP only, so /metrics never shows the same
// facts twice (see Config.DisableRuntimeMetrics).
func WithGoCollector(on bool) PrometheusOption {
	return promOptionFunc(func(c *promConfig) { c.goCollector = on })
}

// WithProcessCollector adds or leaves out the process collector
// (process_cpu_seconds_total, process_resident_memory_bytes,
// process_open_fds, ...). On by default, for the same reason as
// WithGoCollector.
func WithProcessCollector(on bool) PrometheusOption {
	return promOptionFunc(func(c *promConfig) { c.processCollector = on })
}

// WithScopeLabels adds or leaves out the otel_scope_name,
// otel_scope_version (and otel_scope_schema_url) labels on every series.
// Off by default: the dashboard contract's label sets are
// {operation,status} and so on, and the scope of an sfotel metric already
// shows in its name.
func WithScopeLabels(on bool) PrometheusOption {
	return promOptionFunc(func(c *promConfig) { c.scopeLabels = on })
}

// WithTargetInfo adds or leaves out the target_info series that carries
// the resource attributes (service.name, host.name, ...) as labels. On by
// default: it is one series, and it lets a dashboard join on the service.
func WithTargetInfo(on bool) PrometheusOption {
	return promOptionFunc(func(c *promConfig) { c.targetInfo = on })
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
func WithOpenMetricsFormat(on bool) PrometheusOption {
	return promOptionFunc(func(c *promConfig) { c.openMetrics = on })
}

// validNamespace is a Prometheus metric name prefix.
var validNamespace = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// WithNamespace prefixes every OTel metric name with ns and an underscore.
// Empty means no prefix (the default). The dashboard contract's names assume
// no prefix. ns must be a valid metric name prefix, [a-zA-Z_][a-zA-Z0-9_]*.
func WithNamespace(ns string) PrometheusOption {
	return promOptionFunc(func(c *promConfig) {
		if ns != "" && !validNamespace.MatchString(ns) {
			c.errs = append(c.errs, fmt.Errorf("exporters: WithNamespace: %q is not a metric name prefix; want [a-zA-Z_][a-zA-Z0-9_]*", ns))
			return
		}
		c.namespace = ns
	})
}

// WithPrometheusLogger sets the logger for scrape errors (a collector that
// failed; the scrape still serves everything else). The default is
// slog.Default(); nil is ignored.
func WithPrometheusLogger(l *slog.Logger) PrometheusOption {
	return promOptionFunc(func(c *promConfig) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithScrapeLimits bounds concurrent scrapes (answered 503 beyond
// maxInFlight) and the time one scrape may take before it is answered 503.
// The defaults are 4 and 10 s; both must be > 0.
func WithScrapeLimits(maxInFlight int, timeout time.Duration) PrometheusOption {
	return promOptionFunc(func(c *promConfig) {
		if maxInFlight <= 0 {
			c.errs = append(c.errs, fmt.Errorf("exporters: WithScrapeLimits: maxInFlight must be > 0, got %d", maxInFlight))
		}
		if timeout <= 0 {
			c.errs = append(c.errs, fmt.Errorf("exporters: WithScrapeLimits: timeout must be > 0, got %v", timeout))
		}
		if maxInFlight > 0 && timeout > 0 {
			c.maxInFlight, c.scrapeTimeout = maxInFlight, timeout
		}
	})
}

// otlpConfig holds what the OTLPOptions set. Unset fields fall back to the
// environment, then to the defaults above.
type otlpConfig struct {
	protocol Protocol
	endpoint string
	insecure bool
	headers  map[string]string
	timeout  time.Duration
	errs     []error
}

// OTLPOption configures the OTLP exporters. Options override the
// OTEL_EXPORTER_OTLP_* environment variables.
type OTLPOption interface {
	applyOTLP(*otlpConfig)
}

type otlpOptionFunc func(*otlpConfig)

func (f otlpOptionFunc) applyOTLP(c *otlpConfig) { f(c) }

// newOTLPConfig applies opts over the zero config (whose fields mean "the
// environment decides"); plan reports the options' errors.
func newOTLPConfig(opts []OTLPOption) otlpConfig {
	var c otlpConfig
	for _, o := range opts {
		if o != nil {
			o.applyOTLP(&c)
		}
	}
	return c
}

// WithProtocol chooses the transport, overriding OTEL_EXPORTER_OTLP_PROTOCOL.
func WithProtocol(p Protocol) OTLPOption {
	return otlpOptionFunc(func(c *otlpConfig) { c.protocol = p })
}

// WithEndpoint sets the collector's base endpoint, overriding
// OTEL_EXPORTER_OTLP_ENDPOINT: "https://host:port", "http://host:port" or
// "host:port" (TLS unless WithInsecureTransport). For http/protobuf the
// signal path (/v1/traces, /v1/metrics) is appended to the URL's path.
// Plain-text http:// is accepted on a loopback host (127.0.0.0/8, ::1,
// localhost) without WithInsecureTransport; on any other host it needs
// WithInsecureTransport(true), so a typo never sends telemetry unencrypted
// across a network.
func WithEndpoint(endpoint string) OTLPOption {
	return otlpOptionFunc(func(c *otlpConfig) { c.endpoint = endpoint })
}

// WithInsecureTransport(true) sends telemetry without TLS, to any host.
// false, the default, leaves TLS to the endpoint: https:// and host:port
// use TLS, http:// is allowed to a loopback host only.
func WithInsecureTransport(on bool) OTLPOption {
	return otlpOptionFunc(func(c *otlpConfig) { c.insecure = on })
}

// WithHeaders sends h as headers (gRPC metadata) with every export, e.g. an
// API key, replacing those of OTEL_EXPORTER_OTLP_HEADERS. Header names must
// not be empty.
func WithHeaders(h map[string]string) OTLPOption {
	return otlpOptionFunc(func(c *otlpConfig) {
		for k := range h {
			if k == "" {
				c.errs = append(c.errs, errors.New("exporters: WithHeaders: a header name is empty"))
				return
			}
		}
		c.headers = h
	})
}

// WithTimeout bounds one export, retries included, overriding
// OTEL_EXPORTER_OTLP_TIMEOUT. It must be > 0.
func WithTimeout(d time.Duration) OTLPOption {
	return otlpOptionFunc(func(c *otlpConfig) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("exporters: WithTimeout: must be > 0, got %v", d))
			return
		}
		c.timeout = d
	})
}
