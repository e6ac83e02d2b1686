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
	preload           bool
	stateCacheTTL     time.Duration // WithStateCache, in statecache.go
}

// Option configures an Executor.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

func newConfig(opts []Option) config {
	c := config{
		tracerProvider: otel.GetTracerProvider(),
		meterProvider:  otel.GetMeterProvider(),
		logger:         slog.Default(),
		preload:        true,
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
// metric attributes (off by default). At most MaxServiceAttributePairs
// distinct (namespace, service) pairs are recorded under their own names;
// later pairs are recorded as namespace="_other", service="_other", so the
// number of series stays bounded. Calls rejected as invalid are recorded as
// "_invalid", and operations without a single service (GetWorkloadStateBatch,
// GetLinkService) with an empty service.
func WithServiceAttributes(enabled bool) Option {
	return optionFunc(func(c *config) { c.serviceAttributes = enabled })
}

// WithoutPreload makes New skip loading the Lua scripts into Redis. They are
// then loaded on first use, when EVALSHA answers NOSCRIPT (counted as a miss
// and a reload).
func WithoutPreload() Option {
	return optionFunc(func(c *config) { c.preload = false })
}
