package redisinstr

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
)

// Instrumentation is the telemetry attached to one go-redis client by
// Instrument. Close it before or after closing the client.
type Instrumentation struct {
	cfg    config
	rdb    redis.UniversalClient
	inst   instruments
	tracer gatedTracerProvider

	// closed turns hooks and the new-node callback into no-ops after Close:
	// go-redis can neither remove a hook nor an OnNewNode callback.
	closed atomic.Bool
	status atomic.Int32 // statusUp or statusDown

	mu    sync.Mutex
	nodes map[*redis.Client]*node // guarded by mu
	list  []*node                 // copy-on-write snapshot of nodes, guarded by mu

	reg       metric.Registration
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Instrument attaches pool metrics, the connection status prober and, as
// configured, per-command metrics and spans to rdb, which must be a
// *redis.Client, *redis.ClusterClient or *redis.Ring. Every node of a
// cluster or ring is covered, including nodes that appear later.
//
// Instrument runs one probe before it returns, so the connection status is
// known at once. It waits at most one probe timeout for the probe (two for a
// cluster, whose slot map it loads first). A down Redis is reported as the
// status "down", not returned as an error.
func Instrument(rdb redis.UniversalClient, opts ...Option) (*Instrumentation, error) {
	cfg := newConfig(opts)
	if err := cfg.validate(rdb); err != nil {
		return nil, err
	}
	i := &Instrumentation{
		cfg:   cfg,
		rdb:   rdb,
		nodes: make(map[*redis.Client]*node),
		done:  make(chan struct{}),
	}
	i.tracer = gatedTracerProvider{tp: cfg.tracerProvider, closed: &i.closed}
	meter := cfg.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	var err error
	if i.inst, err = newInstruments(meter, cfg.commandMetrics); err != nil {
		return nil, fmt.Errorf("redisinstr: create instruments: %w", err)
	}
	if i.reg, err = meter.RegisterCallback(i.observe, i.inst.observables()...); err != nil {
		return nil, fmt.Errorf("redisinstr: register metric callback: %w", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	i.cancel = cancel
	switch c := rdb.(type) {
	case *redis.Client:
		i.addNode(c)
	case *redis.ClusterClient:
		// Register for new nodes first, then visit the known ones: a node
		// created in between is seen twice and added once.
		c.OnNewNode(i.addNode)
		i.addShards(ctx, c.ForEachShard)
	case *redis.Ring:
		c.OnNewNode(i.addNode)
		i.addShards(ctx, c.ForEachShard)
	}
	i.probe(ctx)
	go i.run(ctx)
	return i, nil
}

func (c *config) validate(rdb redis.UniversalClient) error {
	switch client := rdb.(type) {
	case nil:
		return errors.New("redisinstr: rdb is nil")
	case *redis.Client:
		if client == nil {
			return errors.New("redisinstr: rdb is a nil *redis.Client")
		}
	case *redis.ClusterClient:
		if client == nil {
			return errors.New("redisinstr: rdb is a nil *redis.ClusterClient")
		}
	case *redis.Ring:
		if client == nil {
			return errors.New("redisinstr: rdb is a nil *redis.Ring")
		}
	default:
		return fmt.Errorf("redisinstr: rdb: unsupported client type %T (want *redis.Client, *redis.ClusterClient or *redis.Ring)", rdb)
	}
	if c.probeInterval <= 0 {
		return fmt.Errorf("redisinstr: WithProbeInterval: must be > 0, got %v", c.probeInterval)
	}
	if c.probeTimeout <= 0 {
		return fmt.Errorf("redisinstr: WithProbeTimeout: must be > 0, got %v", c.probeTimeout)
	}
	c.probeTimeout = min(c.probeTimeout, c.probeInterval)
	return nil
}

// addShards adds the nodes a cluster or ring already has. A failure (cluster
// unreachable) is not an error: the prober reports the status and adds the
// masters once the cluster answers, and new nodes arrive through OnNewNode.
func (i *Instrumentation) addShards(ctx context.Context, forEach func(context.Context, func(context.Context, *redis.Client) error) error) {
	ctx, cancel := context.WithTimeout(ctx, i.cfg.probeTimeout)
	defer cancel()
	_ = forEach(ctx, func(_ context.Context, c *redis.Client) error {
		i.addNode(c)
		return nil
	})
}

// addNode starts observing the pool of one node client and installs the
// command hooks on it, once per client.
func (i *Instrumentation) addNode(c *redis.Client) {
	i.mu.Lock()
	if i.closed.Load() || i.nodes[c] != nil {
		i.mu.Unlock()
		return
	}
	n := newNode(c, i.poolName(c))
	i.nodes[c] = n
	i.list = append(i.list[:len(i.list):len(i.list)], n)
	i.mu.Unlock()

	if i.cfg.commandMetrics {
		c.AddHook(newCommandHook(i.inst.operationDuration, &i.closed, c.Options().Addr))
	}
	if i.cfg.commandSpans {
		// Per node client, not per cluster: redisotel's cluster support only
		// sees nodes created after the call. No dial spans: go-redis dials
		// in the background, so they would be parentless root spans.
		_ = redisotel.InstrumentTracing(c,
			redisotel.WithTracerProvider(i.tracer),
			redisotel.WithDialFilter(true),
			redisotel.WithCallerEnabled(i.cfg.callerInfo),
			redisotel.WithDBStatement(i.cfg.dbStatement),
		)
	}
}

// removeNode stops observing a node client that go-redis closed (a cluster
// node gone from the slot map, a ring shard removed by SetAddrs).
func (i *Instrumentation) removeNode(c *redis.Client) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.nodes[c] == nil {
		return
	}
	delete(i.nodes, c)
	list := make([]*node, 0, len(i.list)-1)
	for _, n := range i.list {
		if n.client != c {
			list = append(list, n)
		}
	}
	i.list = list
}

func (i *Instrumentation) snapshot() []*node {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.list
}

// poolName follows the semantic conventions: the pool name, or else the node
// address; for a cluster or ring, whose pools are per node, a configured
// name is a prefix of the node address.
func (i *Instrumentation) poolName(c *redis.Client) string {
	addr := c.Options().Addr
	if _, single := i.rdb.(*redis.Client); single {
		if i.cfg.poolName != "" {
			return i.cfg.poolName
		}
		return addr
	}
	if i.cfg.poolName != "" {
		return i.cfg.poolName + "/" + addr
	}
	return addr
}

// Close unregisters the metric callback, stops the prober and waits for it,
// and turns the command hooks into pass-throughs. It is idempotent and safe
// to call concurrently; every call returns the first call's result.
func (i *Instrumentation) Close() error {
	i.closeOnce.Do(func() {
		i.mu.Lock()
		i.closed.Store(true)
		i.nodes, i.list = nil, nil
		i.mu.Unlock()
		i.cancel()
		<-i.done
		if err := i.reg.Unregister(); err != nil {
			i.closeErr = fmt.Errorf("redisinstr: unregister metric callback: %w", err)
		}
	})
	return i.closeErr
}
