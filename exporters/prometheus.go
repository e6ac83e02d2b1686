package exporters

import (
	"fmt"
	"log/slog"
	"net/http"
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// DefaultListenAddr is where the quickstart serves /metrics: the OTel
// Prometheus exporter's port, on loopback unless an operator chooses.
const DefaultListenAddr = "127.0.0.1:9464"

// Prometheus is a metric Reader and the http.Handler that serves what it
// holds on /metrics, from a registry of its own (never the global one, so
// two never collide) unless WithRegisterer gives one.
type Prometheus struct {
	sdkmetric.Reader
	registerer prometheus.Registerer
	gatherer   prometheus.Gatherer
	handler    http.Handler
}

// NewPrometheus returns a Prometheus reader and handler. Metric names follow
// the OTel-to-Prometheus translation with suffixes (stateful_executor.operations
// becomes stateful_executor_operations_total, a histogram in seconds gets
// _seconds), pinned so an upstream default never renames a dashboard's
// series. It takes the Prometheus options and WithLogger.
func NewPrometheus(opts ...Option) (*Prometheus, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if c.registerer == nil {
		reg := prometheus.NewRegistry()
		c.registerer, c.gatherer = reg, reg
	} else if c.gatherer == nil {
		if c.gatherer, _ = c.registerer.(prometheus.Gatherer); c.gatherer == nil {
			return nil, fmt.Errorf("exporters: WithRegisterer: %T is not a prometheus.Gatherer; give WithGatherer the registry it registers with", c.registerer)
		}
	}
	popts := []otelprom.Option{otelprom.WithRegisterer(c.registerer), otelprom.WithNamespace(c.namespace),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes)}
	if !c.scopeLabels {
		popts = append(popts, otelprom.WithoutScopeInfo())
	}
	if !c.targetInfo {
		popts = append(popts, otelprom.WithoutTargetInfo())
	}
	exp, err := otelprom.New(popts...)
	if err != nil {
		return nil, fmt.Errorf("exporters: prometheus exporter: %w", err)
	}
	if c.goCollector {
		if err := c.registerer.Register(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(reportRuntimeMetrics))); err != nil {
			return nil, fmt.Errorf("exporters: WithGoCollector: %w", err)
		}
	}
	if c.processCollector {
		if err := c.registerer.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return nil, fmt.Errorf("exporters: WithProcessCollector: %w", err)
		}
	}
	h := promhttp.HandlerFor(c.gatherer, promhttp.HandlerOpts{
		ErrorLog: scrapeErrorLog{c.logger},
		// One failing collector must not blank the whole scrape: it is
		// logged and counted in promhttp_metric_handler_errors_total.
		ErrorHandling: promhttp.ContinueOnError, Registry: c.registerer,
		MaxRequestsInFlight: c.maxInFlight, Timeout: c.scrapeTimeout, EnableOpenMetrics: c.openMetrics,
	})
	return &Prometheus{Reader: exp, registerer: c.registerer, gatherer: c.gatherer, handler: h}, nil
}

// reportRuntimeMetrics are the runtime/metrics the report's tail and GC
// diagnosis read, beside the Go collector's defaults: with them on
// /metrics, a fleet report (report.FleetReport) weighs CPU waits, GC
// pauses and the GC's CPU as a process's own report does.
var reportRuntimeMetrics = collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(
	`^/sched/(latencies|pauses/total/gc):seconds$|^/cpu/classes/(total|idle|gc/mark/(assist|dedicated|idle)|gc/pause):cpu-seconds$|^/gc/(cycles/total:gc-cycles|heap/live:bytes)$`)}

// ServeHTTP serves the current metrics; httpauth.Protect can guard it.
func (p *Prometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }

// Registerer returns the registerer the OTel bridge registered with, for
// collectors of the application's own beside the OTel instruments.
func (p *Prometheus) Registerer() prometheus.Registerer { return p.registerer }

// Gatherer returns what the handler serves.
func (p *Prometheus) Gatherer() prometheus.Gatherer { return p.gatherer }

// scrapeErrorLog adapts slog to promhttp's Println logger.
type scrapeErrorLog struct{ l *slog.Logger }

func (s scrapeErrorLog) Println(v ...any) {
	s.l.Warn("sfotel: Prometheus scrape error", "error", fmt.Sprint(v...))
}
