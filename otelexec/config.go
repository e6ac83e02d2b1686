package otelexec

import (
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// config holds what the options set. newConfig fills in the defaults first.
type config struct {
	tracerProvider     trace.TracerProvider
	meterProvider      metric.MeterProvider
	logger             *slog.Logger
	serviceAttributes  bool
	commandSpans       bool
	autoPipelining     bool
	stateCacheTTL      time.Duration
	stateCacheMaxBytes int64
	linkCacheStale     time.Duration
	linkCacheMaxBytes  int64
	invalid            []error // option values New refuses, each naming its option
}

// Option configures an Executor.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

func newConfig(opts []Option) config {
	c := config{
		tracerProvider:     otel.GetTracerProvider(),
		meterProvider:      otel.GetMeterProvider(),
		logger:             slog.Default(),
		autoPipelining:     true,
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

// WithLogger sets the logger for the few events a person must act on, such
// as a reload of the Lua scripts after Redis lost them. The executor never
// logs per call. The default is slog.Default(); nil is ignored.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithServiceAttributes also records each call's operation, status and
// duration by namespace and service, on instruments of their own
// (stateful_executor.service.*; off by default). The MeterProvider's
// cardinality limit bounds their series; past it the SDK records into its
// overflow series. The other instruments keep exact totals.
func WithServiceAttributes(on bool) Option {
	return optionFunc(func(c *config) { c.serviceAttributes = on })
}

// WithRedisCommandSpans tells the executor that the client's commands get
// spans of their own (redisinstr.WithCommandSpans on the same client): its
// spans are then INTERNAL, without database attributes, so that
// span-derived metrics count each Redis call once, and its commands are
// sent directly, so that each command span has its operation as parent.
// Off by default: the executor's span is the CLIENT span of the Redis call
// (docs/design.md, "Trace shape").
func WithRedisCommandSpans(on bool) Option {
	return optionFunc(func(c *config) { c.commandSpans = on })
}

// WithAutoPipelining sets whether the executor's single commands share
// round trips (go-redis's automatic pipelining, an experimental API) while
// other commands of the executor are in flight; a lone caller is sent
// directly. On by default: from many goroutines it makes the executor
// faster than a naive one, at half of Redis's CPU per request. Every
// guarantee holds either way; a process that runs its CPUs flat out may do
// better without it (docs/design.md, "Automatic pipelining").
func WithAutoPipelining(on bool) Option {
	return optionFunc(func(c *config) { c.autoPipelining = on })
}

// DefaultStateCacheMaxBytes is the memory WithStateCache holds at most
// unless WithStateCacheMaxBytes says otherwise: 64 MiB.
const DefaultStateCacheMaxBytes = 64 << 20

// WithStateCache keeps each service's pod states in memory for at most ttl,
// so that ComputeLinkedPod and GetServiceState read them from Redis about
// once per ttl per service rather than once per call: for many users routed
// to one service at once. A state read through it is never older than ttl,
// the executor reads its own SetServiceState at once, and callers that miss
// together share one HGETALL, each within its own deadline. ComputeLinkedPod
// then refuses an aliveWithin not longer than ttl. ttl <= 0, the default,
// turns it off (docs/design.md, "The state cache").
func WithStateCache(ttl time.Duration) Option {
	return optionFunc(func(c *config) { c.stateCacheTTL = ttl })
}

// WithStateCacheMaxBytes bounds the state cache's memory, in bytes of Go
// heap: about 37 bytes a pod (with a 13-byte state), 340 a service and an
// admission table of a 64th of n, at most 32 KiB. A service whose states
// alone take more is read from Redis on every call. New refuses n <= 0.
func WithStateCacheMaxBytes(n int64) Option {
	return positive("WithStateCacheMaxBytes", n, func(c *config) { c.stateCacheMaxBytes = n })
}

// DefaultLinkCacheMaxBytes is the memory WithLinkCache holds at most unless
// WithLinkCacheMaxBytes says otherwise: 64 MiB.
const DefaultLinkCacheMaxBytes = 64 << 20

// minLinkCacheStale is the shortest maxStale WithLinkCache accepts: the
// lease is renewed every quarter of it, by a PING round trip.
const minLinkCacheStale = 10 * time.Millisecond

// WithLinkCache answers GetLinkedPod, and a BatchGetLinkedPod whose every
// uid is cached, from memory: for routers whose lookups far outnumber link
// changes. Redis keeps it correct: a connection of its own, with CLIENT
// TRACKING, is told of every link written, by anyone, and a lookup that
// starts maxStale or more after another client's write was answered never
// returns the link as it was before it. The executor reads its own writes
// at once. It needs a *redis.Client on Redis 6 or later (New refuses it on
// a ClusterClient or Ring) and a maxStale of at least 10 ms; maxStale <= 0,
// the default, turns it off (docs/design.md, "Link cache").
func WithLinkCache(maxStale time.Duration) Option {
	return optionFunc(func(c *config) {
		if maxStale > 0 && maxStale < minLinkCacheStale {
			c.refuse(fmt.Errorf("otelexec: WithLinkCache: maxStale must be 0 (off) or at least %v, got %v", minLinkCacheStale, maxStale))
			return
		}
		c.linkCacheStale = max(maxStale, 0)
	})
}

// WithLinkCacheMaxBytes bounds the link cache's memory, in bytes of Go heap:
// about 250 bytes a user plus the lengths of its names. New refuses n <= 0.
func WithLinkCacheMaxBytes(n int64) Option {
	return positive("WithLinkCacheMaxBytes", n, func(c *config) { c.linkCacheMaxBytes = n })
}

// positive is an option that sets n > 0, and that New refuses otherwise.
func positive(option string, n int64, set func(*config)) Option {
	return optionFunc(func(c *config) {
		if n <= 0 {
			c.refuse(fmt.Errorf("otelexec: %s: must be > 0, got %d", option, n))
			return
		}
		set(c)
	})
}

// refuse records an option value New will refuse.
func (c *config) refuse(err error) { c.invalid = append(c.invalid, err) }
