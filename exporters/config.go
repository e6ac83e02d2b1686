package exporters

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// promConfig holds what the PrometheusOptions set. newPromConfig fills in the
// defaults first.
type promConfig struct {
	registry         *prometheus.Registry
	goCollector      bool
	processCollector bool
	scopeInfo        bool
	targetInfo       bool
	openMetrics      bool
	namespace        string
	logger           *slog.Logger
	maxInFlight      int
	scrapeTimeout    time.Duration
}

// PrometheusOption configures NewPrometheus.
type PrometheusOption interface {
	applyProm(*promConfig)
}

type promOptionFunc func(*promConfig)

func (f promOptionFunc) applyProm(c *promConfig) { f(c) }

func newPromConfig(opts []PrometheusOption) promConfig {
	c := promConfig{
		goCollector:      true,
		processCollector: true,
		targetInfo:       true,
		logger:           slog.Default(),
		maxInFlight:      4,
		scrapeTimeout:    10 * time.Second,
	}
	for _, o := range opts {
		if o != nil {
			o.applyProm(&c)
		}
	}
	if c.registry == nil {
		c.registry = prometheus.NewRegistry()
	}
	return c
}

// WithRegistry makes the exporter register with reg instead of a registry of
// its own, so an application can serve its own collectors and the OTel
// instruments from one handler. It must not be prometheus.DefaultRegisterer's
// registry if anything else registers there too, or names may collide. nil is
// ignored.
func WithRegistry(reg *prometheus.Registry) PrometheusOption {
	return promOptionFunc(func(c *promConfig) {
		if reg != nil {
			c.registry = reg
		}
	})
}

// WithGoCollector adds or leaves out the Go runtime collector (go_goroutines,
// go_memstats_*, go_gc_*). On by default, as on every Go /metrics endpoint
// served by client_golang's default handler: dashboards expect it, and it
// costs nothing until a scrape.
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

// WithScopeInfo adds the otel_scope_name, otel_scope_version (and
// otel_scope_schema_url) labels to every series. Off by default: the dashboard
// contract's label sets are {operation,status} and so on, and the scope of an
// sfotel metric already shows in its name.
func WithScopeInfo() PrometheusOption {
	return promOptionFunc(func(c *promConfig) { c.scopeInfo = true })
}

// WithoutTargetInfo leaves out the target_info series that carries the
// resource attributes (service.name, host.name, ...) as labels. It is on by
// default: it is one series, and it lets a dashboard join on the service.
func WithoutTargetInfo() PrometheusOption {
	return promOptionFunc(func(c *promConfig) { c.targetInfo = false })
}

// WithOpenMetrics lets a scraper negotiate the OpenMetrics text format, the
// only one that carries exemplars (trace IDs on histogram buckets). Off by
// default because OpenMetrics writes integer-looking le labels as "1.0", which
// changes the identity of existing histogram series on the Prometheus server.
func WithOpenMetrics() PrometheusOption {
	return promOptionFunc(func(c *promConfig) { c.openMetrics = true })
}

// WithNamespace prefixes every OTel metric name with ns and an underscore.
// Empty means no prefix (the default). The dashboard contract's names assume
// no prefix.
func WithNamespace(ns string) PrometheusOption {
	return promOptionFunc(func(c *promConfig) { c.namespace = ns })
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

// WithScrapeLimits bounds concurrent scrapes (answered 503 beyond maxInFlight)
// and the time one scrape may take before it is answered 503. The defaults
// are 4 and 10 s; values <= 0 keep the default.
func WithScrapeLimits(maxInFlight int, timeout time.Duration) PrometheusOption {
	return promOptionFunc(func(c *promConfig) {
		if maxInFlight > 0 {
			c.maxInFlight = maxInFlight
		}
		if timeout > 0 {
			c.scrapeTimeout = timeout
		}
	})
}

// protectConfig holds the credentials ProtectHandler accepts.
type protectConfig struct {
	bearerTokens []string
	basicUsers   []basicCredential
	realm        string
}

type basicCredential struct{ user, password string }

// ProtectOption configures ProtectHandler.
type ProtectOption interface {
	applyProtect(*protectConfig)
}

type protectOptionFunc func(*protectConfig)

func (f protectOptionFunc) applyProtect(c *protectConfig) { f(c) }

// WithBearerToken accepts requests with "Authorization: Bearer token".
// It may be given more than once (e.g. while rotating a token). A token
// with white space or a control character at either end, such as the
// newline at the end of a file read with os.ReadFile, is refused: HTTP
// strips it from the header, so it could never match. Trim it first (as
// Prometheus does with the file of its credentials_file setting).
func WithBearerToken(token string) ProtectOption {
	return protectOptionFunc(func(c *protectConfig) {
		c.bearerTokens = append(c.bearerTokens, token)
	})
}

// WithBasicAuth accepts requests with HTTP basic credentials user and
// password. It may be given more than once. As with WithBearerToken, a
// user or password with white space at either end is refused.
func WithBasicAuth(user, password string) ProtectOption {
	return protectOptionFunc(func(c *protectConfig) {
		c.basicUsers = append(c.basicUsers, basicCredential{user, password})
	})
}

// WithRealm sets the realm named in the WWW-Authenticate challenge. The
// default is "sfotel".
func WithRealm(realm string) ProtectOption {
	return protectOptionFunc(func(c *protectConfig) { c.realm = realm })
}

// otlpConfig holds what the OTLPOptions set. Unset fields fall back to the
// environment, then to the defaults above.
type otlpConfig struct {
	protocol Protocol
	endpoint string
	insecure bool
	headers  map[string]string
	timeout  time.Duration
}

// OTLPOption configures the OTLP exporters. Options override the
// OTEL_EXPORTER_OTLP_* environment variables.
type OTLPOption interface {
	applyOTLP(*otlpConfig)
}

type otlpOptionFunc func(*otlpConfig)

func (f otlpOptionFunc) applyOTLP(c *otlpConfig) { f(c) }

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
// "host:port" (TLS unless WithInsecure). For http/protobuf the signal path
// (/v1/traces, /v1/metrics) is appended to the URL's path. Plain-text
// http:// is accepted on a loopback host (127.0.0.0/8, ::1, localhost)
// without WithInsecure; on any other host it needs WithInsecure, so a typo
// never sends telemetry unencrypted across a network.
func WithEndpoint(endpoint string) OTLPOption {
	return otlpOptionFunc(func(c *otlpConfig) { c.endpoint = endpoint })
}

// WithInsecure sends telemetry without TLS.
func WithInsecure() OTLPOption {
	return otlpOptionFunc(func(c *otlpConfig) { c.insecure = true })
}

// WithHeaders sends h as headers (gRPC metadata) with every export, e.g. an
// API key, replacing those of OTEL_EXPORTER_OTLP_HEADERS.
func WithHeaders(h map[string]string) OTLPOption {
	return otlpOptionFunc(func(c *otlpConfig) { c.headers = h })
}

// WithTimeout bounds one export, retries included, overriding
// OTEL_EXPORTER_OTLP_TIMEOUT. Values <= 0 are ignored.
func WithTimeout(d time.Duration) OTLPOption {
	return otlpOptionFunc(func(c *otlpConfig) {
		if d > 0 {
			c.timeout = d
		}
	})
}
