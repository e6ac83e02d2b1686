package redisinstr

import (
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
	dbStatement    bool
	commandMetrics bool

	probeInterval time.Duration
	probeTimeout  time.Duration
	poolName      string
}

// Option configures Instrument.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

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
			o.apply(&c)
		}
	}
	return c
}

// WithMeterProvider sets the MeterProvider of the pool, status, ping and
// command metrics. Default: the global one; nil is ignored.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp != nil {
			c.meterProvider = mp
		}
	})
}

// WithTracerProvider sets the TracerProvider of the command spans. Default:
// the global one; nil is ignored.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) {
		if tp != nil {
			c.tracerProvider = tp
		}
	})
}

// WithCommandSpans turns on one span per Redis command (through redisotel).
// Off by default: the executor's operation span already carries the database
// attributes, and a span per command costs microseconds and allocations.
func WithCommandSpans(on bool) Option {
	return optionFunc(func(c *config) { c.commandSpans = on })
}

// WithCallerInfo adds code.function, code.filepath and code.lineno to command
// spans. Off by default: the stack walk is the most expensive part of
// redisotel's hook.
func WithCallerInfo(on bool) Option {
	return optionFunc(func(c *config) { c.callerInfo = on })
}

// WithDBStatement adds the full command text (db.statement) to command spans.
// Off by default: it carries keys and values, which may be personal data.
func WithDBStatement(on bool) Option {
	return optionFunc(func(c *config) { c.dbStatement = on })
}

// WithCommandMetrics turns the per-command db.client.operation.duration
// histogram on or off. On by default: it allocates nothing per command.
func WithCommandMetrics(on bool) Option {
	return optionFunc(func(c *config) { c.commandMetrics = on })
}

// WithProbeInterval sets how often the prober PINGs Redis. Default 5s; a
// value <= 0 is rejected by Instrument.
func WithProbeInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.probeInterval = d })
}

// WithProbeTimeout bounds each PING of the prober. Default 1s, capped at the
// probe interval; a value <= 0 is rejected by Instrument.
func WithProbeTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.probeTimeout = d })
}

// WithPoolName names the connection pool in db.client.connection.pool.name.
// Default: the node address. For a cluster or ring, whose pools are per node,
// it becomes a prefix: "<name>/<node address>".
func WithPoolName(name string) Option {
	return optionFunc(func(c *config) { c.poolName = name })
}
