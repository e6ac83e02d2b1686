package redisinstr

import (
	"cmp"
	"context"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// pipelinePoolSuffix names the second pool of a go-redis client: pipelines
// run on a dedicated pool of their own (PipelinePoolSize connections), which
// PoolStats reports apart from the main pool.
const pipelinePoolSuffix = "/pipeline"

// node is one go-redis node client (the client itself, a cluster node or a
// ring shard) with the attribute sets of its pools, built once, and the
// prober's own connection to it.
type node struct {
	client   *redis.Client
	probe    *redis.Client
	main     poolSeries
	pipeline poolSeries
	ping     []metric.RecordOption // pool name, server.address, server.port
}

// poolSeries holds the prebuilt attribute sets of one pool's series.
type poolSeries struct {
	pool, idle, used      []metric.ObserveOption
	max, idleMin, idleMax int64
}

func newNode(c *redis.Client, poolName string, probeTimeout time.Duration) *node {
	opt := c.Options()
	return &node{
		client: c,
		probe:  newProbeClient(opt, probeTimeout),
		main:   newPoolSeries(poolName, int64(opt.PoolSize), int64(opt.MinIdleConns), int64(opt.MaxIdleConns)),
		// The pipeline pool never keeps idle connections on purpose (see
		// redis.Options.PipelinePoolSize), so its idle bounds are 0.
		pipeline: newPoolSeries(poolName+pipelinePoolSuffix, int64(cmp.Or(opt.PipelinePoolSize, redis.DefaultPipelinePoolSize)), 0, 0),
		ping: []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(
			append(serverAttrs(opt.Addr), semconv.DBClientConnectionPoolName(poolName))...))},
	}
}

func newPoolSeries(name string, max, idleMin, idleMax int64) poolSeries {
	pool := semconv.DBClientConnectionPoolName(name)
	return poolSeries{observeSet(pool), observeSet(pool, semconv.DBClientConnectionStateIdle),
		observeSet(pool, semconv.DBClientConnectionStateUsed), max, idleMin, idleMax}
}

// observeSet is the observe option of one series, built once.
func observeSet(kv ...attribute.KeyValue) []metric.ObserveOption {
	return []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
}

// observe is the one metric callback of an Instrumentation: pool statistics
// of every node and the connection status the prober last saw.
func (i *Instrumentation) observe(_ context.Context, o metric.Observer) error {
	for _, n := range i.snapshot() {
		s := n.client.PoolStats()
		i.observePool(o, &n.main, s)
		if s.PipelineStats != nil {
			i.observePool(o, &n.pipeline, (*redis.PoolStats)(s.PipelineStats))
		}
	}
	up := int64(0)
	if i.up.Load() {
		up = 1
	}
	o.ObserveInt64(i.inst.status, up, i.statusUp...)
	o.ObserveInt64(i.inst.status, 1-up, i.statusDown...)
	return nil
}

func (i *Instrumentation) observePool(o metric.Observer, p *poolSeries, s *redis.PoolStats) {
	in := &i.inst
	idle, total := int64(s.IdleConns), int64(s.TotalConns)
	// The two counts are read one after the other, not as one snapshot.
	used := max(total-idle, 0)
	o.ObserveInt64(in.connCount, idle, p.idle...)
	o.ObserveInt64(in.connCount, used, p.used...)
	o.ObserveInt64(in.connMax, p.max, p.pool...)
	o.ObserveInt64(in.idleMin, p.idleMin, p.pool...)
	o.ObserveInt64(in.idleMax, p.idleMax, p.pool...)
	o.ObserveInt64(in.timeouts, int64(s.Timeouts), p.pool...)
	o.ObserveInt64(in.pending, int64(s.PendingRequests), p.pool...)
	o.ObserveInt64(in.waits, int64(s.WaitCount), p.pool...)
	o.ObserveFloat64(in.waitTime, float64(s.WaitDurationNs)/1e9, p.pool...)
	o.ObserveInt64(in.hits, int64(s.Hits), p.pool...)
	o.ObserveInt64(in.misses, int64(s.Misses), p.pool...)
	if p.max > 0 {
		o.ObserveFloat64(in.utilization, float64(used)/float64(p.max), p.pool...)
	}
}
