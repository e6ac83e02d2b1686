package redisinstr

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/statefulroute/sfotel/internal/contract"
)

// Instrumentation is the telemetry attached to one go-redis client by
// Instrument. Close it before or after closing the client.
type Instrumentation struct {
	cfg    config
	rdb    redis.UniversalClient
	name   string // the client's name: db.client.connection.pool.name of its status
	inst   instruments
	tracer trace.Tracer

	// closed turns hooks and the new-node callback into no-ops after Close:
	// go-redis can neither remove a hook nor an OnNewNode callback.
	closed atomic.Bool
	up     atomic.Bool // the connection status the prober last saw
	// statusUp and statusDown are the two series of the status gauge.
	statusUp, statusDown []metric.ObserveOption

	mu    sync.Mutex
	nodes map[*redis.Client]*node // guarded by mu
	list  []*node                 // copy-on-write snapshot of nodes, guarded by mu

	topology bounded // the cluster's slot map or the ring's shards, read with a bound

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
// known at once. It never waits longer than two probe timeouts (one for a
// cluster's slot map, one for the PINGs), whatever the client's own
// timeouts: the prober has a connection of its own, with the probe timeout
// as its dial, read and write timeout. A down Redis is reported as the
// status "down", not returned as an error.
func Instrument(rdb redis.UniversalClient, opts ...Option) (*Instrumentation, error) {
	cfg := newConfig(opts)
	if err := cfg.validate(rdb); err != nil {
		return nil, err
	}
	i := &Instrumentation{
		cfg:   cfg,
		rdb:   rdb,
		name:  cmp.Or(cfg.poolName, clientName(rdb)),
		nodes: make(map[*redis.Client]*node),
		done:  make(chan struct{}),
	}
	pool := semconv.DBClientConnectionPoolName(i.name)
	i.statusUp = observeSet(pool, attribute.String(contract.AttrStatus, contract.StatusUp))
	i.statusDown = observeSet(pool, attribute.String(contract.AttrStatus, contract.StatusDown))

	meter := cfg.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	var err error
	if i.inst, err = newInstruments(meter, cfg.commandMetrics); err != nil {
		return nil, fmt.Errorf("redisinstr: create instruments: %w", err)
	}
	if i.reg, err = meter.RegisterCallback(i.observe, i.inst.observables()...); err != nil {
		return nil, fmt.Errorf("redisinstr: register metric callback: %w", err)
	}
	if cfg.commandSpans {
		i.tracer = cfg.tracerProvider.Tracer(ScopeName, trace.WithInstrumentationVersion(Version))
	}

	ctx, cancel := context.WithCancel(context.Background())
	i.cancel = cancel
	switch c := rdb.(type) {
	case *redis.Client:
		i.addNode(c)
	case interface {
		OnNewNode(func(*redis.Client))
		ForEachShard(context.Context, func(context.Context, *redis.Client) error) error
	}: // a cluster or ring
		// Register for new nodes first, then visit the known ones: a node
		// created in between is seen twice and added once. A cluster that
		// does not answer is no error: the prober reports it down, and adds
		// the masters once it answers.
		c.OnNewNode(i.addNode)
		sctx, cancel := context.WithTimeout(ctx, cfg.probeTimeout)
		_ = i.topology.run(sctx, func(ctx context.Context) error {
			return c.ForEachShard(ctx, func(_ context.Context, n *redis.Client) error { i.addNode(n); return nil })
		})
		cancel()
	}
	i.probe(ctx)
	go i.run(ctx)
	return i, nil
}

func (c *config) validate(rdb redis.UniversalClient) error {
	switch rdb.(type) {
	case nil:
		return errors.New("redisinstr: rdb is nil")
	case *redis.Client, *redis.ClusterClient, *redis.Ring:
		if reflect.ValueOf(rdb).IsNil() {
			return fmt.Errorf("redisinstr: rdb is a nil %T", rdb)
		}
	default:
		return fmt.Errorf("redisinstr: rdb: unsupported client type %T (want *redis.Client, *redis.ClusterClient or *redis.Ring)", rdb)
	}
	if len(c.invalid) > 0 {
		return errors.Join(c.invalid...)
	}
	if c.probeTimeout > c.probeInterval {
		return fmt.Errorf("redisinstr: WithProbeTimeout: %v is longer than the probe interval %v (WithProbeInterval)", c.probeTimeout, c.probeInterval)
	}
	return nil
}

// clientName is the client's default name: its address, or a cluster's or
// ring's configured addresses.
func clientName(rdb redis.UniversalClient) string {
	switch c := rdb.(type) {
	case *redis.Client:
		return c.Options().Addr
	case *redis.ClusterClient:
		return strings.Join(c.Options().Addrs, ",")
	case *redis.Ring:
		return strings.Join(slices.Sorted(maps.Values(c.Options().Addrs)), ",")
	}
	return ""
}

// addNode starts observing the pool of one node client and installs the
// command hook on it, once per client.
func (i *Instrumentation) addNode(c *redis.Client) {
	i.mu.Lock()
	if i.closed.Load() || i.nodes[c] != nil {
		i.mu.Unlock()
		return
	}
	n := newNode(c, i.poolName(c), i.cfg.probeTimeout)
	i.nodes[c] = n
	i.list = append(i.list[:len(i.list):len(i.list)], n)
	i.mu.Unlock()

	if i.cfg.commandMetrics || i.cfg.commandSpans {
		c.AddHook(newCommandHook(i, c))
	}
}

// removeNode stops observing a node client that go-redis closed (a cluster
// node gone from the slot map, a ring shard removed by SetAddrs).
func (i *Instrumentation) removeNode(c *redis.Client) {
	i.mu.Lock()
	n := i.nodes[c]
	if n == nil {
		i.mu.Unlock()
		return
	}
	delete(i.nodes, c)
	i.list = slices.DeleteFunc(slices.Clone(i.list), func(m *node) bool { return m == n })
	i.mu.Unlock()
	_ = n.probe.Close()
}

func (i *Instrumentation) snapshot() []*node {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.list
}

// poolName follows the semantic conventions: the client's name for a
// single client; for a cluster or ring, whose pools are per node, the
// client's name (when one was given) as a prefix of the node address.
func (i *Instrumentation) poolName(c *redis.Client) string {
	addr := c.Options().Addr
	if _, single := i.rdb.(*redis.Client); single {
		return i.name
	}
	if i.cfg.poolName != "" {
		return i.cfg.poolName + "/" + addr
	}
	return addr
}

// Close unregisters the metric callback, stops the prober and waits for it,
// and turns the command hooks into pass-throughs (go-redis cannot remove a
// hook). It returns within one probe timeout: a probe in flight ends when
// Close cancels it. It is idempotent and safe to call concurrently; every
// call returns the first call's result.
func (i *Instrumentation) Close() error {
	i.closeOnce.Do(func() {
		i.mu.Lock()
		i.closed.Store(true)
		nodes := i.list
		i.nodes, i.list = nil, nil
		i.mu.Unlock()
		i.cancel()
		<-i.done
		if err := i.reg.Unregister(); err != nil {
			i.closeErr = fmt.Errorf("redisinstr: unregister metric callback: %w", err)
		}
		for _, n := range nodes {
			_ = n.probe.Close()
		}
	})
	return i.closeErr
}

// bounded runs one call at a time in a goroutine of its own and waits for
// it only as long as its context allows. go-redis bounds a cluster's slot
// map load by the client's own timeouts, which may be none
// (ReadTimeout: -1); a call still running when the caller gives up is left
// to finish, and no other is started until it has.
type bounded struct{ busy atomic.Bool }

var errBusy = errors.New("redisinstr: the previous topology read has not returned")

func (b *bounded) run(ctx context.Context, f func(context.Context) error) error {
	if !b.busy.CompareAndSwap(false, true) {
		return errBusy
	}
	done := make(chan error, 1)
	go func() {
		defer b.busy.Store(false)
		done <- f(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
