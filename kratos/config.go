package sfkratos

import (
	"cmp"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/exporters"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/redisinstr"
)

// DefaultStopTimeout bounds Lifecycle.Stop when WithStopTimeout is not
// given: exporters' own shutdown bound.
const DefaultStopTimeout = exporters.DefaultShutdownTimeout

// config is what NewLifecycle builds from its options.
type config struct {
	telemetry   *exporters.Telemetry
	inst        *redisinstr.Instrumentation
	executor    *otelexec.Executor
	rdb         redis.UniversalClient
	stopTimeout time.Duration
	err         error // the first invalid option value
}

// Option configures a Lifecycle.
type Option func(*config)

// WithTelemetry makes the Lifecycle shut t down (flushing its spans and
// metrics) after the servers have stopped. nil is ignored.
func WithTelemetry(t *exporters.Telemetry) Option {
	return func(c *config) { c.telemetry = cmp.Or(t, c.telemetry) }
}

// WithInstrumentation makes the Lifecycle close i (its prober and metric
// callback) after the servers have stopped. nil is ignored.
func WithInstrumentation(i *redisinstr.Instrumentation) Option {
	return func(c *config) { c.inst = cmp.Or(i, c.inst) }
}

// WithExecutor makes the Lifecycle load e's Lua scripts at Start (within
// Kratos' start deadline: otelexec.New itself does no I/O) and close e after
// the servers have stopped. nil is ignored.
func WithExecutor(e *otelexec.Executor) Option {
	return func(c *config) { c.executor = cmp.Or(e, c.executor) }
}

// WithRedisClient hands rdb to the Lifecycle: Start checks that it answers,
// Stop closes it, last. Leave it out when something else owns the client.
// nil is ignored.
func WithRedisClient(rdb redis.UniversalClient) Option {
	return func(c *config) { c.rdb = cmp.Or(rdb, c.rdb) }
}

// WithStopTimeout bounds Stop, and is the kratos.StopTimeout that Options
// returns, so the servers' graceful stop and the telemetry's final flush get
// the same budget each. It must be > 0; the default is DefaultStopTimeout.
func WithStopTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.stopTimeout = d
		} else if c.err == nil {
			c.err = fmt.Errorf("sfkratos: WithStopTimeout: must be > 0, got %v", d)
		}
	}
}
