package exporters

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/statefulroute/sfotel/internal/contract"
)

// ScopeName is the instrumentation scope of the exporters' own metrics
// (sfotel.exporter.spans.dropped).
const ScopeName = contract.ScopeExporters

// Version is the version of that scope, the same for every sfotel package.
const Version = contract.Version

// Telemetry holds what Setup built. Shutdown it before the process exits.
type Telemetry struct {
	tp                       *sdktrace.TracerProvider
	mp                       *sdkmetric.MeterProvider
	prom                     *Prometheus
	res                      *resource.Resource
	prop                     propagation.TextMapPropagator
	limit                    int
	disabled                 bool
	stats                    exportStats
	spanHealth, metricHealth exportHealth
	abort                    context.CancelFunc
	shutdownOnce             sync.Once
	shutdownErr              error
}

// Setup builds the resource, a TracerProvider with a batch span processor
// per exporter and a MeterProvider with the readers asked for; without
// options, OTLP only if OTEL_EXPORTER_OTLP_* asks for it, nothing global.
// No network is touched: a collector that is down costs dropped data and
// one logged warning, never a failed Setup or a slower operation. With
// OTEL_SDK_DISABLED=true nothing is exported or recorded (readers collect
// nothing; tracers pass an incoming trace context through), and the
// propagator is still installed, as the specification asks.
func Setup(ctx context.Context, opts ...Option) (*Telemetry, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	abortCtx, abort := context.WithCancel(context.Background())
	t := &Telemetry{res: res, prop: propagatorFromEnv(), limit: cardinalityLimit(cfg.cardinalityLimit), abort: abort,
		disabled:     envChoice([]string{"true", "false"}, envSDKDisabled) == "true",
		spanHealth:   exportHealth{what: "span", logger: cfg.logger},
		metricHealth: exportHealth{what: "metric", logger: cfg.logger}}
	// What the providers do not own yet is shut down here on error.
	var cleanup []func(context.Context) error
	fail := func(err error) (*Telemetry, error) {
		abort()
		for _, f := range cleanup {
			_ = f(context.Background())
		}
		return nil, err
	}
	if cfg.prometheus {
		if t.prom, err = NewPrometheus(opts...); err != nil {
			return fail(err)
		}
		cfg.readers = append([]sdkmetric.Reader{t.prom}, cfg.readers...)
	}

	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	mpOpts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithCardinalityLimit(t.limit)}
	for _, r := range cfg.readers {
		mpOpts = append(mpOpts, sdkmetric.WithReader(r))
	}
	if t.disabled {
		// Readers stay (and answer empty); any view but dropAll would record.
		dropAll := sdkmetric.NewView(sdkmetric.Instrument{Name: "*"}, sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}})
		t.tp, t.mp = sdktrace.NewTracerProvider(tpOpts...), sdkmetric.NewMeterProvider(append(mpOpts, sdkmetric.WithView(dropAll))...)
		_ = t.tp.Shutdown(ctx) // its tracers are no-ops from now on
		return t.finish(cfg, false)
	}
	mpOpts = append(mpOpts, sdkmetric.WithView(cfg.views...))
	if cfg.sampler != nil {
		tpOpts = append(tpOpts, sdktrace.WithSampler(cfg.sampler))
	}
	if cfg.exemplarFilter != nil {
		mpOpts = append(mpOpts, sdkmetric.WithExemplarFilter(cfg.exemplarFilter))
	} else { // the SDK reads it, and ignores an unknown value without a word
		envChoice([]string{"always_on", "always_off", "trace_based"}, envExemplarFilter)
	}
	// A batch processor never blocks span.End: when its queue is full, it
	// drops. Its shutdown stops its goroutine and the exporter.
	bspOpts := sync.OnceValue(batchSpanOptions) // read, and warned about, once
	newBSP := func(exp sdktrace.SpanExporter) sdktrace.SpanProcessor {
		bsp := sdktrace.NewBatchSpanProcessor(exp, bspOpts()...)
		cleanup = append(cleanup, bsp.Shutdown)
		return bsp
	}

	traces, exp, err := fromAutoexport(ctx, tracesSignal, autoexport.NewSpanExporter, false)
	if err != nil {
		return fail(err)
	}
	if exp != nil {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(newBSP(exp)))
	}
	tracesOTLP := !cfg.disableOTLP && wantOTLP(traces, tracesSignal, cfg.endpoint)
	if tracesOTLP {
		exp, err := NewOTLPTraceExporter(ctx, opts...)
		if err != nil {
			return fail(err)
		}
		bsp := newBSP(&spanGuard{exp, &t.stats, &t.spanHealth, abortCtx})
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(countingProcessor{bsp, &t.stats.spansQueued}))
	}
	for _, sp := range cfg.spanProcessors {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(sp))
	}

	// "prometheus" asks for a Prometheus exporter; WithPrometheus is one
	// already. Without it, autoexport's serves on
	// OTEL_EXPORTER_PROMETHEUS_HOST:PORT.
	metrics, r, err := fromAutoexport(ctx, metricsSignal, autoexport.NewMetricReader, cfg.prometheus)
	if err != nil {
		return fail(err)
	}
	if r != nil {
		cleanup = append(cleanup, r.Shutdown)
		mpOpts = append(mpOpts, sdkmetric.WithReader(r))
	}
	if !cfg.disableOTLP && wantOTLP(metrics, metricsSignal, cfg.endpoint) {
		exp, err := NewOTLPMetricExporter(ctx, opts...)
		if err != nil {
			return fail(err)
		}
		var ropts []sdkmetric.PeriodicReaderOption // the SDK reads OTEL_METRIC_EXPORT_*
		if cfg.metricInterval > 0 {
			ropts = append(ropts, sdkmetric.WithInterval(cfg.metricInterval))
		}
		if !cfg.disableRuntimeMetrics {
			producers, err := runtimeProducers(res, exp)
			if err != nil {
				_ = exp.Shutdown(ctx)
				return fail(err)
			}
			ropts = append(ropts, producers...)
		}
		reader := sdkmetric.NewPeriodicReader(&metricGuard{exp, &t.stats, &t.metricHealth, abortCtx}, ropts...)
		cleanup = append(cleanup, reader.Shutdown) // stops its goroutine and the exporter
		mpOpts = append(mpOpts, sdkmetric.WithReader(reader))
	}
	t.tp, t.mp = sdktrace.NewTracerProvider(tpOpts...), sdkmetric.NewMeterProvider(mpOpts...)
	return t.finish(cfg, tracesOTLP)
}

// wantOTLP reports whether sig goes over OTLP: its variable says otlp, or
// is unset and an endpoint is configured (where the specification would
// send to localhost:4318, a library sends nowhere nobody configured).
func wantOTLP(name string, sig signal, endpointOption string) bool {
	return name == "otlp" || name == "" && (endpointOption != "" || sig.isSet("ENDPOINT"))
}

// finish counts dropped spans as a metric where spans go over OTLP, and
// installs the globals if asked.
func (t *Telemetry) finish(cfg config, tracesOTLP bool) (*Telemetry, error) {
	if tracesOTLP {
		m := t.mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
		dropped, err := contract.ExporterSpansDropped.New(m)
		if err == nil {
			_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
				o.ObserveInt64(dropped, int64(t.stats.spansDropped.Load()))
				return nil
			}, dropped)
		}
		if err != nil {
			_ = t.Shutdown(context.Background())
			return nil, fmt.Errorf("exporters: %s: %w", contract.MetricExporterSpansDropped, err)
		}
	}
	if cfg.setGlobal {
		otel.SetTracerProvider(t.tp)
		otel.SetMeterProvider(t.mp)
		otel.SetTextMapPropagator(t.prop)
	}
	return t, nil
}

// TracerProvider returns the TracerProvider Setup built.
func (t *Telemetry) TracerProvider() *sdktrace.TracerProvider { return t.tp }

// MeterProvider returns the MeterProvider Setup built.
func (t *Telemetry) MeterProvider() *sdkmetric.MeterProvider { return t.mp }

// Prometheus returns the Prometheus reader and handler, or nil without
// WithPrometheus.
func (t *Telemetry) Prometheus() *Prometheus { return t.prom }

// Resource returns the resource every span and metric carries.
func (t *Telemetry) Resource() *resource.Resource { return t.res }

// Propagator returns the propagator OTEL_PROPAGATORS names (W3C trace
// context and baggage when unset).
func (t *Telemetry) Propagator() propagation.TextMapPropagator { return t.prop }

// CardinalityLimit returns the most series one instrument keeps per
// collection (0: no limit), for instrumentation that budgets below it.
func (t *Telemetry) CardinalityLimit() int { return t.limit }

// Disabled reports whether OTEL_SDK_DISABLED=true made Setup build a
// Telemetry that records nothing.
func (t *Telemetry) Disabled() bool { return t.disabled }

// Stats returns what the OTLP exporters delivered and lost so far.
func (t *Telemetry) Stats() Stats { return t.stats.snapshot() }

// ForceFlush exports what was recorded so far and waits for the collector,
// at most until ctx is done. Data the collector did not take is an error.
func (t *Telemetry) ForceFlush(ctx context.Context) error {
	before := t.Stats()
	return errors.Join(t.tp.ForceFlush(ctx), t.mp.ForceFlush(ctx), t.lostSince(before))
}

// DefaultShutdownTimeout bounds Shutdown when its context has no deadline.
const DefaultShutdownTimeout = 10 * time.Second

// shutdownTimeout is DefaultShutdownTimeout; tests shorten it.
var shutdownTimeout = DefaultShutdownTimeout

// Shutdown flushes and stops everything Setup built within ctx's deadline
// (DefaultShutdownTimeout if none): exports still running then are
// abandoned and counted as dropped. Data the collector did not take is one
// of the errors. Calling it again returns the first call's result.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	t.shutdownOnce.Do(func() {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, shutdownTimeout)
			defer cancel()
		}
		before := t.Stats()
		// When ctx ends, in-flight and later exports end at once, so the
		// SDK's background flush (which does not watch ctx) winds down too.
		defer context.AfterFunc(ctx, t.abort)()
		defer t.abort()

		// Side by side, so one slow pipeline does not use up the other's
		// share of the deadline.
		tpErr := make(chan error, 1)
		go func() { tpErr <- t.tp.Shutdown(ctx) }()
		mpErr := t.mp.Shutdown(ctx)
		t.shutdownErr = errors.Join(<-tpErr, mpErr, t.lostSince(before))
	})
	return t.shutdownErr
}

// lostSince reports the spans and metric exports the collector did not
// take since before, with the last error seen.
func (t *Telemetry) lostSince(before Stats) error {
	now := t.Stats()
	var errs []error
	if n := now.SpansDropped - before.SpansDropped; n > 0 {
		errs = append(errs, fmt.Errorf("exporters: %d spans not delivered to the OTLP collector: %w", n, t.spanHealth.err()))
	}
	// Metrics are cumulative: a failed export is made good by a later one,
	// so only a failure that is still the latest result lost data.
	if n := now.MetricExportsFailed - before.MetricExportsFailed; n > 0 && t.metricHealth.failing.Load() {
		errs = append(errs, fmt.Errorf("exporters: %d metric exports not delivered to the OTLP collector: %w", n, t.metricHealth.err()))
	}
	return errors.Join(errs...)
}
