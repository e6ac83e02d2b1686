package redisinstr

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Connection status values held in Instrumentation.status.
const (
	statusDown int32 = iota
	statusUp
)

// probeKey marks the prober's context, so its PINGs make no command spans.
type probeKey struct{}

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
	ctx, cancel := context.WithTimeout(context.WithValue(ctx, probeKey{}, struct{}{}), i.cfg.probeTimeout)
	defer cancel()

	var masters map[*redis.Client]bool
	mastersOK := true
	if c, ok := i.rdb.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		masters = make(map[*redis.Client]bool)
		// ForEachMaster reads the cached slot map (it loads it only when
		// there is none yet), so it adds masters that Instrument could not
		// see while the cluster was down.
		err := c.ForEachMaster(ctx, func(_ context.Context, m *redis.Client) error {
			i.addNode(m)
			mu.Lock()
			masters[m] = true
			mu.Unlock()
			return nil
		})
		mastersOK = err == nil && len(masters) > 0
	}

	nodes := i.snapshot()
	failed := make([]bool, len(nodes))
	var wg sync.WaitGroup
	for k, n := range nodes {
		wg.Go(func() {
			start := time.Now()
			err := n.client.Ping(ctx).Err()
			if err == nil {
				i.inst.pingDuration.Record(ctx, time.Since(start).Seconds(), n.ping...)
				return
			}
			failed[k] = true
			if errors.Is(err, redis.ErrClosed) && !i.isClientItself(n.client) {
				// go-redis closed a cluster node or ring shard it no
				// longer uses: its series go away with it.
				i.removeNode(n.client)
			}
		})
	}
	wg.Wait()

	up := len(nodes) > 0 && mastersOK
	for k, n := range nodes {
		if failed[k] && (masters == nil || masters[n.client]) {
			up = false
		}
	}
	if up {
		i.status.Store(statusUp)
	} else {
		i.status.Store(statusDown)
	}
}

func (i *Instrumentation) isClientItself(c *redis.Client) bool {
	single, ok := i.rdb.(*redis.Client)
	return ok && single == c
}
