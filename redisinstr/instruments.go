package redisinstr

import (
	"errors"

	"go.opentelemetry.io/otel/metric"

	"github.com/statefulroute/sfotel/internal/contract"
)

// instruments are created once per Instrumentation, from the definitions in
// internal/contract. The pool instruments are observable (read from
// PoolStats at collection time); command and ping durations are recorded as
// they happen.
type instruments struct {
	connCount, connMax, idleMax, idleMin, pending metric.Int64ObservableUpDownCounter
	timeouts, waits, hits, misses                 metric.Int64ObservableCounter
	waitTime                                      metric.Float64ObservableCounter
	utilization                                   metric.Float64ObservableGauge
	status                                        metric.Int64ObservableGauge

	pingDuration    metric.Float64Histogram
	commandDuration metric.Float64Histogram // nil without command metrics
}

func newInstruments(m metric.Meter, commandMetrics bool) (instruments, error) {
	var in instruments
	var errs [14]error
	in.connCount, errs[0] = contract.PoolConnectionCount.New(m)
	in.connMax, errs[1] = contract.PoolMax.New(m)
	in.idleMax, errs[2] = contract.PoolIdleMax.New(m)
	in.idleMin, errs[3] = contract.PoolIdleMin.New(m)
	in.timeouts, errs[4] = contract.PoolTimeouts.New(m)
	in.pending, errs[5] = contract.PoolPending.New(m)
	in.waits, errs[6] = contract.PoolWaits.New(m)
	in.waitTime, errs[7] = contract.PoolWaitTime.New(m)
	in.hits, errs[8] = contract.PoolHits.New(m)
	in.misses, errs[9] = contract.PoolMisses.New(m)
	in.utilization, errs[10] = contract.PoolUtilization.New(m)
	in.status, errs[11] = contract.ConnectionStatus.New(m)
	in.pingDuration, errs[12] = contract.PingDuration.New(m)
	if commandMetrics {
		in.commandDuration, errs[13] = contract.CommandDuration.New(m)
	}
	return in, errors.Join(errs[:]...)
}

func (in *instruments) observables() []metric.Observable {
	return []metric.Observable{
		in.connCount, in.connMax, in.idleMax, in.idleMin, in.pending, in.timeouts,
		in.waits, in.waitTime, in.hits, in.misses, in.utilization, in.status,
	}
}
