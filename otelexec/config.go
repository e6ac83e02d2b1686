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
	commandSpans      bool
	stateCacheTTL     time.Duration // WithStateCache, in statecache.go
	autoPipelining    bool          // WithAutoPipelining, in send.go

	stateCacheMaxBytes int64         // WithStateCacheMaxBytes, in statecache.go
	linkCacheStale     time.Duration // WithLinkCache, in linkcache.go
	linkCacheMaxBytes  int64         // WithLinkCacheMaxBytes, in linkcache.go
	invalid            []error       // option values New refuses, each naming its option (refuse)
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
		tracerProvider: otel.GetTracerProvider(),
		meterProvider:  otel.GetMeterProvider(),
		logger:         slog.Default(),
		autoPipelining: true,

		stateCacheMaxBytes: DefaultStateCacheMaxBytes,
		linkCacheMaxBytes:  DefaultLinkCacheMaxBytes,
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

// WithServiceAttributes records each call's operation, status and duration
// also by namespace and service, on instruments of their own
// (stateful_executor.service.operations and .service.operation.duration;
// off by default). The MeterProvider's cardinality limit
// (sdkmetric.WithCardinalityLimit) bounds their series; past it the SDK
// records into its overflow series (otel.metric.overflow="true"). The
// instruments without these attributes keep exact totals whatever the
// number of pairs (docs/telemetry.md).
func WithServiceAttributes(on bool) Option {
	return optionFunc(func(c *config) { c.serviceAttributes = on })
}

// WithRedisCommandSpans tells the executor whether the client's commands
// get spans of their own (redisinstr.WithCommandSpans, given to the same
// client). Then the executor's spans are INTERNAL, without database
// attributes, so that span-derived metrics and service graphs count each
// Redis round trip once, and WithAutoPipelining sends commands directly,
// so that each command span has its operation as parent. Off by default:
// the executor's span is the CLIENT span of the Redis call.
func WithRedisCommandSpans(on bool) Option {
	return optionFunc(func(c *config) { c.commandSpans = on })
}
