package report

import (
	"cmp"
	"math"
	"slices"
	"strings"

	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
)

// pipelineSuffix ends the name of go-redis's pipeline pool, which
// redisinstr reports beside the command pool of the same node.
const pipelineSuffix = "/pipeline"

// poolKey names a pool or a client: the Prometheus instance that reported
// it (empty in a process's own report) and its pool name.
type poolKey struct{ instance, name string }

// poolFields add a pool instrument's value to its pool.
var poolFields = map[string]func(p *Pool, a attrs, v float64){
	contract.MetricPoolConnectionCount: func(p *Pool, a attrs, v float64) {
		switch a[2] {
		case semconv.DBClientConnectionStateUsed.Value.AsString():
			p.InUse += int64(count(v))
		case semconv.DBClientConnectionStateIdle.Value.AsString():
			p.Idle += int64(count(v))
		}
	},
	contract.MetricPoolMax:         func(p *Pool, _ attrs, v float64) { p.Max += int64(count(v)) },
	contract.MetricPoolWaits:       func(p *Pool, _ attrs, v float64) { p.Waits += count(v) },
	contract.MetricPoolTimeouts:    func(p *Pool, _ attrs, v float64) { p.Timeouts += count(v) },
	contract.MetricPoolHits:        func(p *Pool, _ attrs, v float64) { p.Hits += count(v) },
	contract.MetricPoolMisses:      func(p *Pool, _ attrs, v float64) { p.Misses += count(v) },
	contract.MetricPoolWaitTime:    func(p *Pool, _ attrs, v float64) { p.WaitSeconds += math.Max(v, 0) },
	contract.MetricPoolUtilization: func(p *Pool, _ attrs, v float64) { p.Utilization = max(p.Utilization, v) },
}

// pools are the connection pools by instance and name. A pool's
// utilization is in use / max, or its utilization gauge for a pool
// without max.
func (raw *rawData) pools() map[poolKey]*Pool {
	var out map[poolKey]*Pool
	for name, add := range poolFields {
		for a, s := range raw.series[name] {
			p := entry(&out, poolKey{a[0], a[1]})
			p.Name = a[1]
			add(p, a, s.value)
		}
	}
	for _, p := range out {
		if p.Max > 0 {
			p.Utilization = float64(p.InUse) / float64(p.Max)
		}
	}
	return out
}

// statuses are the clients' connection statuses: a client is up when its
// up series is 1 and its down series is not.
func (raw *rawData) statuses() map[poolKey]bool {
	seen := map[poolKey]int{} // 1: up seen, 2: down seen
	for a, s := range raw.series[contract.MetricConnectionStatus] {
		k, v := poolKey{a[0], a[1]}, 0
		switch {
		case a[2] == contract.StatusUp && s.value > 0:
			v = 1
		case a[2] == contract.StatusDown && s.value > 0, a[2] == contract.StatusUp:
			v = 2
		}
		seen[k] = max(seen[k], v)
	}
	out := make(map[poolKey]bool, len(seen))
	for k, v := range seen {
		out[k] = v == 1
	}
	return out
}

// clients groups the pools by client. Each client has a connection-status
// series pair named by its db.client.connection.pool.name; a pool belongs to
// the client whose name it equals or starts with followed by "/" (the
// pipeline pool, a cluster node), the longest such name winning. A status
// without a pool name (an older redisinstr) takes the pools no named client
// claims; pools left over form clients of unknown status, one per node.
func (raw *rawData) clients() []Client {
	statuses := raw.statuses()
	byKey := make(map[poolKey]*Client, len(statuses))
	for k, up := range statuses {
		byKey[k] = &Client{Name: k.name, Instance: k.instance, ConnectionUp: &up, Pools: []Pool{}}
	}
	for pk, p := range raw.pools() {
		owner := poolKey{instance: pk.instance}
		for k := range statuses {
			if k.instance == pk.instance && k.name != "" && len(k.name) > len(owner.name) &&
				(pk.name == k.name || strings.HasPrefix(pk.name, k.name+"/")) {
				owner = k
			}
		}
		if _, ok := statuses[owner]; !ok {
			owner.name = strings.TrimSuffix(pk.name, pipelineSuffix)
		}
		c := byKey[owner]
		if c == nil {
			c = &Client{Name: owner.name, Instance: owner.instance}
			byKey[owner] = c
		}
		c.Pools = append(c.Pools, *p)
	}
	out := make([]Client, 0, len(byKey))
	for _, c := range byKey {
		slices.SortFunc(c.Pools, func(a, b Pool) int { return cmp.Compare(a.Name, b.Name) })
		for _, p := range c.Pools {
			c.Pool.add(p)
		}
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Client) int {
		return cmp.Or(cmp.Compare(a.Instance, b.Instance), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// add sums o into p. Utilization is the busiest pool's: a full pool makes
// its callers wait even while another (the pipeline pool, another node) is
// idle.
func (p *Pool) add(o Pool) {
	p.Max, p.InUse, p.Idle = p.Max+o.Max, p.InUse+o.InUse, p.Idle+o.Idle
	p.Waits, p.Timeouts, p.Hits, p.Misses = p.Waits+o.Waits, p.Timeouts+o.Timeouts, p.Hits+o.Hits, p.Misses+o.Misses
	p.WaitSeconds += o.WaitSeconds
	p.Utilization = max(p.Utilization, o.Utilization)
}
