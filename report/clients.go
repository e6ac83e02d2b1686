package report

import (
	"cmp"
	"slices"
	"strings"
)

// pipelineSuffix ends the name of go-redis's pipeline pool, which
// redisinstr reports beside the command pool of the same node.
const pipelineSuffix = "/pipeline"

// clients groups the pools by client. Each client has a connection-status
// series pair named by its db.client.connection.pool.name; a pool belongs to
// the client whose name it equals or starts with followed by "/" (the
// pipeline pool, a cluster node), the longest such name winning. A status
// without a pool name (an older redisinstr) takes the pools no named client
// claims; pools left over form clients of unknown status, one per node.
func (raw *rawData) clients() []Client {
	byKey := make(map[poolKey]*Client, len(raw.statuses))
	for k, s := range raw.statuses {
		up := s.up()
		byKey[k] = &Client{Name: k.name, Instance: k.instance, ConnectionUp: &up, Pools: []Pool{}}
	}
	poolsOf := make(map[poolKey][]poolKey, len(byKey))
	for pk := range raw.pools {
		owner, found := poolKey{}, false
		for ck := range byKey {
			if ck.instance != pk.instance || ck.name == "" {
				continue
			}
			if pk.name == ck.name || strings.HasPrefix(pk.name, ck.name+"/") {
				if !found || len(ck.name) > len(owner.name) {
					owner, found = ck, true
				}
			}
		}
		if !found {
			owner = poolKey{instance: pk.instance}
			if byKey[owner] == nil {
				owner.name = strings.TrimSuffix(pk.name, pipelineSuffix)
			}
			if byKey[owner] == nil {
				byKey[owner] = &Client{Name: owner.name, Instance: owner.instance, Pools: []Pool{}}
			}
		}
		poolsOf[owner] = append(poolsOf[owner], pk)
	}
	out := make([]Client, 0, len(byKey))
	for k, c := range byKey {
		pks := poolsOf[k]
		slices.SortFunc(pks, func(a, b poolKey) int { return cmp.Compare(a.name, b.name) })
		c.Pool = raw.sumPools(pks)
		for _, pk := range pks {
			p := raw.sumPools([]poolKey{pk})
			p.Name = pk.name
			c.Pools = append(c.Pools, p)
		}
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Client) int {
		return cmp.Or(cmp.Compare(a.Instance, b.Instance), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// sumPools sums the pools named by keys. Utilization is the busiest pool's
// in use / max: a full pool makes its callers wait even while another (the
// pipeline pool, another node) is idle; pools without a max contribute
// their utilization gauge.
func (raw *rawData) sumPools(keys []poolKey) Pool {
	var p Pool
	for _, k := range keys {
		rp := raw.pools[k]
		p.Max += rp.max
		p.InUse += rp.used
		p.Idle += rp.idle
		p.Waits += rp.waits
		p.Timeouts += rp.timeouts
		p.Hits += rp.hits
		p.Misses += rp.misses
		p.WaitSeconds += rp.waitSeconds
		switch {
		case rp.hasMax && rp.max > 0:
			p.Utilization = max(p.Utilization, float64(rp.used)/float64(rp.max))
		case rp.hasUtilization:
			p.Utilization = max(p.Utilization, rp.utilization)
		}
	}
	return p
}

// busiest is the pool with the highest utilization, nil if none.
func (c *Client) busiest() *Pool {
	var best *Pool
	for i := range c.Pools {
		if p := &c.Pools[i]; best == nil || p.Utilization > best.Utilization {
			best = p
		}
	}
	return best
}

// connectionUp is false when any client is down, true when at least one is
// up and none down, nil when no client reported a status.
func (raw *rawData) connectionUp() *bool {
	if len(raw.statuses) == 0 {
		return nil
	}
	up := true
	for _, s := range raw.statuses {
		up = up && s.up()
	}
	return &up
}
