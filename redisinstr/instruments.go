package redisinstr

import (
	"errors"

	"github.com/statefulroute/sfotel/internal/contract"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/semconv/v1.43.0/dbconv"
)

// instruments are created once per Instrumentation. The pool instruments
// are observable (read from PoolStats at collection time); operation
// duration and ping duration are recorded as they happen.
type instruments struct {
	connCount   metric.Int64ObservableUpDownCounter
	connMax     metric.Int64ObservableUpDownCounter
	idleMax     metric.Int64ObservableUpDownCounter
	idleMin     metric.Int64ObservableUpDownCounter
	timeouts    metric.Int64ObservableCounter
	waits       metric.Int64ObservableCounter
	waitTime    metric.Float64ObservableCounter
	hits        metric.Int64ObservableCounter
	misses      metric.Int64ObservableCounter
	utilization metric.Float64ObservableGauge
	status      metric.Int64ObservableGauge

	pingDuration      metric.Float64Histogram
	operationDuration metric.Float64Histogram // nil without command metrics
}

// Bucket boundaries in seconds. The operation buckets are the semantic
// conventions' advice for db.client.operation.duration; pings on a healthy
// network take well under a millisecond, so their buckets start lower.
var (
	operationBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}
	pingBuckets      = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}
)

func newInstruments(m metric.Meter, commandMetrics bool) (instruments, error) {
	var (
		in   instruments
		errs []error
	)
	add := func(err error) { errs = append(errs, err) }
	// Descriptions and units of the instruments the conventions define come
	// from semconv's dbconv, so they cannot drift from the conventions.
	conv := func(desc, unit string) []metric.Int64ObservableUpDownCounterOption {
		return []metric.Int64ObservableUpDownCounterOption{metric.WithDescription(desc), metric.WithUnit(unit)}
	}
	var err error
	in.connCount, err = m.Int64ObservableUpDownCounter(contract.MetricPoolConnectionCount,
		conv(dbconv.ClientConnectionCount{}.Description(), dbconv.ClientConnectionCount{}.Unit())...)
	add(err)
	in.connMax, err = m.Int64ObservableUpDownCounter(contract.MetricPoolMax,
		conv(dbconv.ClientConnectionMax{}.Description(), dbconv.ClientConnectionMax{}.Unit())...)
	add(err)
	in.idleMax, err = m.Int64ObservableUpDownCounter(contract.MetricPoolIdleMax,
		conv(dbconv.ClientConnectionIdleMax{}.Description(), dbconv.ClientConnectionIdleMax{}.Unit())...)
	add(err)
	in.idleMin, err = m.Int64ObservableUpDownCounter(contract.MetricPoolIdleMin,
		conv(dbconv.ClientConnectionIdleMin{}.Description(), dbconv.ClientConnectionIdleMin{}.Unit())...)
	add(err)
	in.timeouts, err = m.Int64ObservableCounter(contract.MetricPoolTimeouts,
		metric.WithDescription(dbconv.ClientConnectionTimeouts{}.Description()),
		metric.WithUnit(dbconv.ClientConnectionTimeouts{}.Unit()))
	add(err)
	in.waits, err = m.Int64ObservableCounter(contract.MetricPoolWaits,
		metric.WithDescription("The number of times a caller waited for a free connection."),
		metric.WithUnit("{wait}"))
	add(err)
	in.waitTime, err = m.Float64ObservableCounter(contract.MetricPoolWaitTime,
		metric.WithDescription("The total time callers spent waiting for a free connection."),
		metric.WithUnit("s"))
	add(err)
	in.hits, err = m.Int64ObservableCounter(contract.MetricPoolHits,
		metric.WithDescription("The number of times a free connection was found in the pool."),
		metric.WithUnit("{hit}"))
	add(err)
	in.misses, err = m.Int64ObservableCounter(contract.MetricPoolMisses,
		metric.WithDescription("The number of times no free connection was found in the pool and one was dialed."),
		metric.WithUnit("{miss}"))
	add(err)
	in.utilization, err = m.Float64ObservableGauge(contract.MetricPoolUtilization,
		metric.WithDescription("Connections in use divided by the pool size."),
		metric.WithUnit("1"))
	add(err)
	// No unit: the Prometheus name must stay stateful_executor_redis_connection_status.
	in.status, err = m.Int64ObservableGauge(contract.MetricConnectionStatus,
		metric.WithDescription(`1 on the series of the current Redis connection status ("up" or "down"), 0 on the other.`))
	add(err)
	in.pingDuration, err = m.Float64Histogram(contract.MetricPingDuration,
		metric.WithDescription("Round trip time of the prober's PING."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(pingBuckets...))
	add(err)
	if commandMetrics {
		in.operationDuration, err = m.Float64Histogram(dbconv.ClientOperationDuration{}.Name(),
			metric.WithDescription(dbconv.ClientOperationDuration{}.Description()),
			metric.WithUnit(dbconv.ClientOperationDuration{}.Unit()),
			metric.WithExplicitBucketBoundaries(operationBuckets...))
		add(err)
	}
	return in, errors.Join(errs...)
}

func (in *instruments) observables() []metric.Observable {
	return []metric.Observable{
		in.connCount, in.connMax, in.idleMax, in.idleMin, in.timeouts,
		in.waits, in.waitTime, in.hits, in.misses, in.utilization, in.status,
	}
}
