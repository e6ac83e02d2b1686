package otelexec

import (
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// config holds what the options set. newConfig fills in the defaults first.
type config struct {
	tracerProvider    trace.TracerProvider
	meterProvider     metric.MeterProvider
	logger            *slog.Logger
	serviceAttributes bool
	cardinalityLimit  int
	stateCacheTTL     time.Duration // WithStateCache, in statecache.go
	autoPipelining    bool          // WithAutoPipelining, in pipeline.go

	stateCacheMaxBytes int64   // WithStateCacheMaxBytes, in statecache.go
	invalid            []error // option values New refuses, each naming its option (refuse)
}

// refuse records an option value New will refuse.
func (c *config) refuse(err error) { c.invalid = append(c.invalid, err) }

// Option configures an Executor.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

func newConfig(opts []Option) config {
	c := config{
		tracerProvider:   otel.GetTracerProvider(),
		meterProvider:    otel.GetMeterProvider(),
		logger:           slog.Default(),
		cardinalityLimit: defaultCardinalityLimit(),
		autoPipelining:   true,

		stateCacheMaxBytes: DefaultStateCacheMaxBytes,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// WithTracerProvider sets the TracerProvider the executor's spans come from.
// The default is the global one; nil is ignored.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) {
		if tp != nil {
			c.tracerProvider = tp
		}
	})
}

// WithMeterProvider sets the MeterProvider the executor's instruments come
// from. The default is the global one; nil is ignored.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp != nil {
			c.meterProvider = mp
		}
	})
}

// WithLogger sets the logger for the few events a person must act on, such as
// a reload of the Lua scripts after the Redis script cache was flushed. The
// executor never logs per call. The default is slog.Default(); nil is ignored.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithServiceAttributes adds the namespace and service name of each call as
// metric attributes (off by default), for as many pairs as the cardinality
// limit (WithCardinalityLimit) and MaxServiceAttributePairs allow; the rest
// are recorded as "_other", so the SDK's overflow series is never reached
// and totals per operation stay exact (docs/telemetry.md).
func WithServiceAttributes(on bool) Option {
	return optionFunc(func(c *config) { c.serviceAttributes = on })
}

// WithCardinalityLimit tells the executor its MeterProvider's cardinality
// limit (sdkmetric.WithCardinalityLimit), which WithServiceAttributes stays
// under. The default is the SDK's; n <= 0 means no limit. Give every
// executor on one MeterProvider the same limit (docs/telemetry.md).
func WithCardinalityLimit(n int) Option {
	return optionFunc(func(c *config) { c.cardinalityLimit = max(n, 0) })
}
