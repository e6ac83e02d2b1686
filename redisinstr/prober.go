package redisinstr

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// newProbeClient returns the prober's client for one node: the node's
// address, credentials, TLS and database, one connection, no retries, and
// the probe timeout as its dial, read, write and pool timeout, with the
// context's deadline honoured. So the status says whether the server
// answers a PING within the probe timeout whatever the client's settings,
// and a pool saturated by slow calls does not make a healthy server look
// down (its utilization, waits and timeouts say so). It shares nothing
// go-redis keeps per client in the options: the push notification
// processor (go-redis stores the node's own there, whose maintenance
// notification handlers are taken, so a second registration failed and
// go-redis logged it at every start-up) and a client-side cache. A PING
// needs neither maintenance notifications nor the cache.
func newProbeClient(node *redis.Options, timeout time.Duration) *redis.Client {
	o := *node
	o.PushNotificationProcessor = nil
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	o.ClientSideCache, o.ClientSideCacheConfig = nil, nil
	o.PoolSize, o.MinIdleConns, o.MaxIdleConns, o.MaxActiveConns, o.PipelinePoolSize = 1, 0, 1, 1, 0
	o.MaxRetries, o.Limiter = -1, nil
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = timeout, timeout, timeout, timeout
	o.ContextTimeoutEnabled = true
	o.DisableIdentity = true // no CLIENT SETINFO handshake on the probe connection
	return redis.NewClient(&o)
}

// run probes every interval until ctx is canceled by Close.
func (i *Instrumentation) run(ctx context.Context) {
	defer close(i.done)
	t := time.NewTicker(i.cfg.probeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			i.probe(ctx)
		}
	}
}

// probe PINGs every known node and stores the status the gauge reports.
// The status is up only when every node that serves data answers: the
// client itself; every shard of a ring; every master of a cluster (replicas
// are pinged for latency but do not count, a cluster serves without them).
// One failing master makes a cluster "down" because the slots it holds fail.
func (i *Instrumentation) probe(ctx context.Context) {
	// One deadline for the whole probe: the slot map and the PINGs.
	ctx, cancel := context.WithTimeout(ctx, i.cfg.probeTimeout)
	defer cancel()
	var masters map[*redis.Client]bool
	mastersOK := true
	if c, ok := i.rdb.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		found := make(map[*redis.Client]bool)
		// ForEachMaster reads the cached slot map (it loads it only when
		// there is none yet), so it adds masters that Instrument could not
		// see while the cluster was down. A load can take as long as the
		// cluster client's own timeouts allow: it is bounded here.
		err := i.topology.run(ctx, func(ctx context.Context) error {
			return c.ForEachMaster(ctx, func(_ context.Context, m *redis.Client) error {
				i.addNode(m)
				mu.Lock()
				found[m] = true
				mu.Unlock()
				return nil
			})
		})
		mu.Lock()
		// A read still running past its bound may add to found later.
		masters = maps.Clone(found)
		mu.Unlock()
		mastersOK = err == nil && len(masters) > 0
	}

	nodes := i.snapshot()
	var wg sync.WaitGroup
	var down atomic.Bool // a node that serves data failed
	for _, n := range nodes {
		wg.Go(func() {
			start := time.Now()
			if err := n.probe.Ping(ctx).Err(); err == nil {
				i.inst.pingDuration.Record(ctx, time.Since(start).Seconds(), n.ping...)
				return
			}
			if masters == nil || masters[n.client] {
				down.Store(true)
			}
			if errors.Is(n.client.Ping(closedCheck).Err(), redis.ErrClosed) && i.rdb != n.client {
				// go-redis closed a cluster node or ring shard it no
				// longer uses: its series go away with it.
				i.removeNode(n.client)
			}
		})
	}
	wg.Wait()
	i.up.Store(len(nodes) > 0 && mastersOK && !down.Load())
}

// closedCheck is an already canceled context: a PING with it returns at
// once, with redis.ErrClosed only when go-redis has closed the client.
var closedCheck = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()
