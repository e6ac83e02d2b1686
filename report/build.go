package report

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
)

// build computes a report from raw data over the window start..end and
// applies the suggestion rules.
func build(raw *rawData, start, end time.Time, cfg *config) *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		GeneratedAt:   end.UTC(),
		Window:        Window{Start: start.UTC(), End: end.UTC()},
		Service:       raw.service,
		Source:        raw.source,
		Thresholds:    cfg.thresholds(),
		Operations:    []Operation{},
	}
	if r.Source.Kind == "" {
		r.Source.Kind = SourceProcess
	}
	// Wall-clock difference, so that seconds matches start and end as
	// printed (UTC drops the monotonic reading).
	if d := r.Window.End.Sub(r.Window.Start); d > 0 {
		r.Window.Seconds = d.Seconds()
	}
	for _, name := range raw.operationNames() {
		s := raw.operation(name, r.Window.Seconds)
		s.SlowestCalls = callsIn(raw.slowest[name], r.Window.Start, r.Window.End, cfg.traceURL)
		r.Operations = append(r.Operations, s)
	}
	r.Redis = raw.redis()
	r.Redis.Embedded = cfg.embeddedRedis
	if raw.hasRuntime || raw.os.ok {
		r.Runtime = &Runtime{SchedulingLatency: latencyOf(&raw.sched), GCPauses: latencyOf(&raw.gcPauses)}
		if g := raw.gc; g.ok {
			r.Runtime.GC = &GC{Cycles: g.cycles, GOGC: g.gogc, LiveHeapBytes: g.liveBytes, CPUShare: ratioF(g.cpuSeconds, g.busySeconds)}
			if r.Window.Seconds > 0 {
				r.Runtime.GC.CyclesPerSecond = float64(g.cycles) / r.Window.Seconds
			}
		}
		if q := raw.os; q.ok {
			r.Runtime.OSRunQueue = &RunQueue{WaitSeconds: nanos(q.waitSeconds), Timeslices: q.timeslices}
			if q.timeslices > 0 {
				r.Runtime.OSRunQueue.MeanWaitSeconds = nanos(q.waitSeconds / float64(q.timeslices))
			}
		}
	}
	r.Routing = raw.routing(r.Window.Seconds)
	r.Suggestions = suggest(r, raw)
	return r
}

func (c *config) thresholds() Thresholds {
	t := c.rules
	t.WarmupSeconds = c.warmup.Seconds()
	return t
}

// callsIn returns the first slowShown of calls (slowest first) that ended
// inside start..end, linked to their traces, never nil.
func callsIn(calls []Call, start, end time.Time, traceURL string) []Call {
	out := make([]Call, 0, min(len(calls), slowShown))
	for _, c := range calls {
		if len(out) < slowShown && !c.Time.Before(start) && !c.Time.After(end) {
			if traceURL != "" {
				c.TraceURL = expandTraceURL(traceURL, c.TraceID, c.SpanID)
			}
			out = append(out, c)
		}
	}
	return out
}

// operationNames are the operations of any point of the operation
// instruments, sorted.
func (raw *rawData) operationNames() []string {
	var names []string
	for _, name := range []string{contract.MetricOperations, contract.MetricErrors, contract.MetricOperationDuration} {
		for a := range raw.series[name] {
			if a[0] != "" && !slices.Contains(names, a[0]) {
				names = append(names, a[0])
			}
		}
	}
	slices.Sort(names)
	return names
}

// operation is the statistics of one operation over seconds.
func (raw *rawData) operation(name string, seconds float64) Operation {
	h := raw.hist(contract.MetricOperationDuration, name)
	s := Operation{Name: name, Count: raw.total(contract.MetricOperations, name),
		Errors: raw.total(contract.MetricOperations, name, contract.StatusError), ErrorsByType: map[string]uint64{}}
	for a, e := range raw.series[contract.MetricErrors] {
		if n := count(e.value); a[0] == name && a[1] != "" && n > 0 {
			s.ErrorsByType[a[1]] += n
		}
	}
	if !raw.has(contract.MetricOperations, name) {
		// Without the operations counter the histogram counts the calls and
		// the error counter the failures.
		s.Count = h.count
		s.Errors = 0
		for _, n := range s.ErrorsByType {
			s.Errors += n
		}
	}
	s.ErrorRate = ratio(s.Errors, s.Count)
	if seconds > 0 {
		s.OpsPerSec = float64(s.Count) / seconds
	}
	s.MeanSeconds, s.P50Seconds, s.P90Seconds, s.P99Seconds, s.MaxSeconds = h.timings()
	return s
}

// total is sum as a count.
func (raw *rawData) total(name string, prefix ...string) uint64 {
	return count(raw.sum(name, prefix...))
}

// timings are h's mean (0 when the source has no sum), p50, p90, p99 and
// max, to the nanosecond; zero when h is empty.
func (h *histogram) timings() (mean, p50, p90, p99, top float64) {
	if h.count == 0 {
		return 0, 0, 0, 0, 0
	}
	if !h.noSum {
		mean = nanos(h.sum / float64(h.count))
	}
	return mean, nanos(h.quantile(0.50)), nanos(h.quantile(0.90)), nanos(h.quantile(0.99)), nanos(h.maxOrEdge())
}

func latencyOf(h *histogram) Latency {
	_, p50, _, p99, top := h.timings()
	return Latency{Count: h.count, P50Seconds: p50, P99Seconds: p99, MaxSeconds: top}
}

func (raw *rawData) redis() Redis {
	hits, misses := raw.total(contract.MetricScriptCacheHits), raw.total(contract.MetricScriptCacheMisses)
	rd := Redis{
		ScriptCache: ScriptCache{
			Hits: hits, Misses: misses, Reloads: raw.total(contract.MetricScriptCacheReloads),
			HitRatio:           ratio(hits, hits+misses),
			ReloadsAfterWarmup: raw.reloadsAfterWarmup,
			WarmingUp:          raw.warmingUp,
		},
		Clients:  raw.clients(),
		Commands: raw.commandStats(),
	}
	for _, c := range rd.Clients {
		rd.Pool.add(c.Pool)
		if c.ConnectionUp != nil { // down when any client is down
			up := *c.ConnectionUp && (rd.ConnectionUp == nil || *rd.ConnectionUp)
			rd.ConnectionUp = &up
		}
	}
	// The hit ratio gauges stand in for absent counters.
	seen := func(names ...string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return raw.has(n) })
	}
	ratios := raw.series[contract.MetricCacheHitRatio]
	if s := ratios[attrs{contract.CacheScript}]; s != nil && !seen(contract.MetricScriptCacheHits, contract.MetricScriptCacheMisses, contract.MetricScriptCacheReloads) {
		rd.ScriptCache.HitRatio = s.value
	}
	state := seen(contract.MetricStateCacheHits, contract.MetricStateCacheMisses)
	if s := ratios[attrs{contract.CacheState}]; state || s != nil {
		hits, misses := raw.total(contract.MetricStateCacheHits), raw.total(contract.MetricStateCacheMisses)
		rd.StateCache = &StateCache{Hits: hits, Misses: misses, HitRatio: ratio(hits, hits+misses)}
		if !state {
			rd.StateCache.HitRatio = s.value
		}
	}
	if h := raw.hist(contract.MetricPingDuration); h.count > 0 {
		mean, p50, _, p99, top := h.timings()
		rd.Ping = &Ping{Count: h.count, P50Seconds: p50, P99Seconds: p99, MaxSeconds: top, MeanSeconds: mean}
	}
	return rd
}

// commandStats is the per-command table, sorted by name, never nil.
func (raw *rawData) commandStats() []Command {
	var hists map[string]*histogram
	errs := map[string]uint64{}
	for a, s := range raw.series[contract.MetricCommandDuration] {
		name := cmp.Or(a[0], OtherCommand)
		entry(&hists, name).merge(&s.hist)
		if a[1] != "" {
			errs[name] += s.hist.count
		}
	}
	out := make([]Command, 0, len(hists))
	for name, h := range hists {
		if h.count > 0 {
			c := Command{Name: name, Count: h.count, Errors: errs[name]}
			c.MeanSeconds, c.P50Seconds, c.P90Seconds, c.P99Seconds, c.MaxSeconds = h.timings()
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Command) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// ratio is part/whole, 0 when whole is 0.
func ratio(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// ratioF is part/whole, 0 when whole is not positive.
func ratioF(part, whole float64) float64 {
	if whole <= 0 {
		return 0
	}
	return min(part/whole, 1)
}

// nanos rounds seconds to the nanosecond: finer digits are float noise.
func nanos(s float64) float64 {
	return math.Round(s*1e9) / 1e9
}

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
