package redisinstr

import (
	"cmp"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of the prober.
const (
	DefaultProbeInterval = 5 * time.Second
	DefaultProbeTimeout  = time.Second
)

type config struct {
	meterProvider  metric.MeterProvider
	tracerProvider trace.TracerProvider

	commandSpans   bool
	callerInfo     bool
	queryText      queryMode
	commandMetrics bool

	probeInterval   time.Duration
	probeTimeout    time.Duration
	probeTimeoutSet bool // WithProbeTimeout was given; else the timeout follows a shorter interval
	poolName        string

	invalid []error // option values Instrument refuses, each naming its option
}

// setIf sets *field to v if ok, else records the option value Instrument
// will refuse; format starts with the option's name.
func setIf[T any](c *config, field *T, v T, ok bool, format string, args ...any) {
	if ok {
		*field = v
	} else {
		c.invalid = append(c.invalid, fmt.Errorf("redisinstr: "+format, args...))
	}
}

// Option configures Instrument.
type Option func(*config)

func newConfig(opts []Option) config {
	c := config{
		meterProvider:  otel.GetMeterProvider(),
		tracerProvider: otel.GetTracerProvider(),
		commandMetrics: true,
		probeInterval:  DefaultProbeInterval,
		probeTimeout:   DefaultProbeTimeout,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if !c.probeTimeoutSet {
		c.probeTimeout = min(c.probeTimeout, c.probeInterval)
	}
	return c
}

// WithMeterProvider sets the MeterProvider of the pool, status, ping and
// command metrics. Default: the global one; nil is ignored.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.meterProvider = cmp.Or(mp, c.meterProvider) }
}

// WithTracerProvider sets the TracerProvider of the command spans. Default:
// the global one; nil is ignored.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tracerProvider = cmp.Or(tp, c.tracerProvider) }
}

// WithCommandSpans turns on one CLIENT span per Redis command and per
// pipeline, after the OpenTelemetry semantic conventions for Redis (v1.43:
// db.system.name, db.operation.name, db.namespace, server.address,
// server.port, error.type, db.response.status_code). Off by default: the
// executor's operation span already carries the database attributes, and a
// span per command costs microseconds and allocations. Give the executor on
// the same client otelexec.WithRedisCommandSpans(true) too: its operation
// spans then become INTERNAL spans, so each Redis round trip is counted once
// by span-derived metrics and service graphs.
func WithCommandSpans(on bool) Option { return func(c *config) { c.commandSpans = on } }

// WithCallerInfo adds code.function.name, code.file.path and
// code.line.number (the first caller outside go-redis and sfotel) to command
// spans. Off by default: the stack walk costs more than the rest of the span.
func WithCallerInfo(on bool) Option { return func(c *config) { c.callerInfo = on } }

// WithQueryText adds db.query.text to command spans, sanitized as the
// semantic conventions ask: the command name with a "?" for each argument
// ("HSET ? ? ?"), never a key or value. Off by default: it allocates the
// text for every span.
func WithQueryText(on bool) Option { return func(c *config) { c.queryText = pick(on, querySanitized) } }

// WithRawQueryText adds the full command text to command spans
// (db.query.text), keys and values included. They may be personal data
// (uids are part of the executor's keys): use it only where your tracing
// backend may hold them. Of WithQueryText and WithRawQueryText, the last
// given wins.
func WithRawQueryText(on bool) Option { return func(c *config) { c.queryText = pick(on, queryRaw) } }

func pick(on bool, m queryMode) queryMode {
	if on {
		return m
	}
	return queryOff
}

// WithCommandMetrics turns the per-command db.client.operation.duration
// histogram on or off. On by default: it allocates nothing per command.
func WithCommandMetrics(on bool) Option { return func(c *config) { c.commandMetrics = on } }

// WithProbeInterval sets how often the prober PINGs Redis. Default 5s; it
// must be > 0.
func WithProbeInterval(d time.Duration) Option {
	return func(c *config) { setIf(c, &c.probeInterval, d, d > 0, "WithProbeInterval: must be > 0, got %v", d) }
}

// WithProbeTimeout bounds each PING of the prober, its dial included, and
// so also Instrument (which runs the first probe) and Close (which waits for
// a probe in flight). Default 1s, or the probe interval if that is shorter;
// it must be > 0 and at most the probe interval.
func WithProbeTimeout(d time.Duration) Option {
	return func(c *config) {
		setIf(c, &c.probeTimeout, d, d > 0, "WithProbeTimeout: must be > 0, got %v", d)
		c.probeTimeoutSet = true
	}
}

// WithPoolName names the client: db.client.connection.pool.name of its pool
// metrics and of its connection status. Default: the node address for a
// *redis.Client, the configured addresses for a cluster or ring. For a
// cluster or ring, whose pools are per node, the pool metrics' name is
// "<name>/<node address>". Names must be unique per MeterProvider (the
// semantic conventions ask for it): two clients instrumented under one name
// on one MeterProvider report into the same series, their counts summed.
// Give each client of one Redis its own.
func WithPoolName(name string) Option {
	return func(c *config) { setIf(c, &c.poolName, name, name != "", "WithPoolName: empty name") }
}
