package report

import "time"

// rawData is what a report is computed from: counters and histograms summed
// over attribute sets, from sfotel's instrumentation scopes only. The
// observers (observe.go) fill it from the points of either source, the SDK
// (gather.go) or Prometheus (fleet.go); a Snapshot holds one, and Delta
// differences two (delta.go). The analysis (build, suggest) reads only it.
type rawData struct {
	start   time.Time
	service Service
	source  Source
	ops     map[string]*rawOp

	pools    map[poolKey]*rawPool   // per pool (db.client.connection.pool.name)
	statuses map[poolKey]*rawStatus // per client (its connection-status series)
	commands map[string]*rawCommand // per Redis command (db.operation.name)
	script   rawCache
	state    rawCache
	// scriptHitRatio is the cache_hit_ratio gauge, used when the script
	// cache counters are absent.
	scriptHitRatio, stateHitRatio float64
	hasScriptRatio, hasStateRatio bool

	ping histogram // PING round trips of the connection prober

	// The Go runtime's scheduling latency and GC pause histograms
	// (runtime/metrics), since the collector was created.
	sched, gcPauses histogram
	hasRuntime      bool
	osQueue         osRunQueue // Linux: the threads' waits in the OS run queues
	gc              gcWork     // the garbage collector's cycles and CPU time

	warmingUp          bool   // the window ends inside the warm-up period
	reloadsAfterWarmup uint64 // script reloads counted since the warm-up ended

	// slowest holds, per operation, the slowest calls with a sampled trace
	// that the collector has seen recently; build keeps those in the window.
	slowest map[string][]Call

	routing rawRouting
}

type rawOp struct {
	name         string
	calls        uint64 // from the operations counter
	errors       uint64 // status=error calls
	hasCalls     bool   // the operations counter has this operation
	errorsByType map[string]uint64
	hist         histogram
}

type rawCache struct {
	hits, misses, reloads uint64
	seen                  bool
}

// poolKey names a pool or a client: the Prometheus instance that reported
// it (empty in a process's own report) and its pool name.
type poolKey struct{ instance, name string }

// rawPool is one connection pool. Max, used, idle and utilization are gauges;
// the rest are cumulative counters.
type rawPool struct {
	max, used, idle        int64
	waits, timeouts        uint64
	hits, misses           uint64
	waitSeconds            float64
	utilization            float64 // the utilization gauge, for pools without max
	hasMax, hasUtilization bool
}

// rawStatus is one client's connection-status series pair.
type rawStatus struct {
	upSeen   bool // the up series is 1
	downSeen bool // the down series is 1, or the up series 0
}

func (s *rawStatus) up() bool { return s.upSeen && !s.downSeen }

// rawCommand is one Redis command's db.client.operation.duration.
type rawCommand struct {
	hist   histogram
	errors uint64 // points with error.type
}

// entry is m[k], made (with m) when absent.
func entry[K comparable, V any](m *map[K]*V, k K) *V {
	if *m == nil {
		*m = make(map[K]*V, 4)
	}
	v := (*m)[k]
	if v == nil {
		v = new(V)
		(*m)[k] = v
	}
	return v
}

// op is the named operation, nil for a point without one.
func (raw *rawData) op(name string) *rawOp {
	if name == "" {
		return nil
	}
	o := entry(&raw.ops, name)
	o.name = name
	return o
}

// counterDelta is cur − prev for a cumulative counter; a counter that went
// down was restarted, and cur is what it counted since.
func counterDelta[N uint64 | float64](cur, prev N) N {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// sizeBytes estimates the memory raw holds, for the history's budget:
// the histograms' buckets dominate it.
func (raw *rawData) sizeBytes() int {
	n := 512 + raw.ping.sizeBytes() + raw.sched.sizeBytes() + raw.gcPauses.sizeBytes()
	for _, o := range raw.ops {
		n += 128 + len(o.name) + o.hist.sizeBytes() + 48*len(o.errorsByType)
	}
	for name, c := range raw.commands {
		n += 96 + len(name) + c.hist.sizeBytes()
	}
	n += 160 * (len(raw.pools) + len(raw.statuses))
	for _, calls := range raw.slowest {
		n += 64 + 112*len(calls)
	}
	return n
}
