package report

import (
	"math"
	"os"
	"runtime/metrics"
	"slices"

	"github.com/prometheus/procfs"
)

// The Go runtime's histograms the tail diagnosis reads. They come from
// runtime/metrics directly, so the report has them in any process, whether
// or not it set up runtime metrics of its own, at the cost of two reads per
// snapshot. Go 1.22 renamed the pause histogram; the old name is the
// fallback.
const (
	runtimeSchedLatencies = "/sched/latencies:seconds"
	runtimeGCPauses       = "/sched/pauses/total/gc:seconds"
	runtimeGCPausesOld    = "/gc/pauses:seconds"
	// The collector's cost in CPU, its cycles and its settings: a GC that
	// runs dozens of times a second costs CPU, not long pauses.
	runtimeGCCycles = "/gc/cycles/total:gc-cycles"
	runtimeCPU      = "/cpu/classes/total:cpu-seconds"
	runtimeIdleCPU  = "/cpu/classes/idle:cpu-seconds"
	// The GC's CPU that is taken from the calls: assists, dedicated
	// workers, pauses. Marking on otherwise idle Ps takes nothing.
	runtimeGCAssist    = "/cpu/classes/gc/mark/assist:cpu-seconds"
	runtimeGCDedicated = "/cpu/classes/gc/mark/dedicated:cpu-seconds"
	runtimeGCPause     = "/cpu/classes/gc/pause:cpu-seconds"
	runtimeGCIdle      = "/cpu/classes/gc/mark/idle:cpu-seconds"
	runtimeGOGC        = "/gc/gogc:percent"
	runtimeLiveHeap    = "/gc/heap/live:bytes"
)

// gcWork is the garbage collector's work, cumulative, and its settings.
type gcWork struct {
	cycles      uint64
	cpuSeconds  float64 // GC's CPU time taken from other work: assists, dedicated workers, pauses
	busySeconds float64 // the process's Go CPU time, idle and idle-time marking excluded
	gogc        uint64
	liveBytes   uint64
	ok          bool
}

// readGC reads the collector's work; ok is false on a runtime without
// these metrics.
func readGC() gcWork {
	s := []metrics.Sample{{Name: runtimeGCCycles}, {Name: runtimeCPU}, {Name: runtimeIdleCPU}, {Name: runtimeGOGC}, {Name: runtimeLiveHeap},
		{Name: runtimeGCAssist}, {Name: runtimeGCDedicated}, {Name: runtimeGCPause}, {Name: runtimeGCIdle}}
	metrics.Read(s)
	for _, v := range s {
		if v.Value.Kind() == metrics.KindBad {
			return gcWork{}
		}
	}
	return gcWork{
		cycles:      s[0].Value.Uint64(),
		busySeconds: s[1].Value.Float64() - s[2].Value.Float64() - s[8].Value.Float64(),
		gogc:        s[3].Value.Uint64(), liveBytes: s[4].Value.Uint64(),
		cpuSeconds: s[5].Value.Float64() + s[6].Value.Float64() + s[7].Value.Float64(),
		ok:         true,
	}
}

// runtimeSample is the runtime's evidence, cumulative: in one read, the
// histograms since the process started, the OS run queue since the reader
// was made.
type runtimeSample struct {
	sched, gcPauses histogram
	hasRuntime      bool // the Go runtime has the histograms
	os              osRunQueue
	gc              gcWork
}

// minus is c − p for two samples of one process; what p lacks, c counts
// whole.
func (c *runtimeSample) minus(p *runtimeSample) runtimeSample {
	d := *c
	d.sched, d.gcPauses = sub(&c.sched, &p.sched), sub(&c.gcPauses, &p.gcPauses)
	if c.os.ok && p.os.ok {
		d.os.waitSeconds = counterDelta(c.os.waitSeconds, p.os.waitSeconds)
		d.os.timeslices = counterDelta(c.os.timeslices, p.os.timeslices)
	}
	if c.gc.ok && p.gc.ok {
		d.gc.cycles = counterDelta(c.gc.cycles, p.gc.cycles)
		d.gc.cpuSeconds = counterDelta(c.gc.cpuSeconds, p.gc.cpuSeconds)
		d.gc.busySeconds = counterDelta(c.gc.busySeconds, p.gc.busySeconds)
	}
	return d
}

// runtimeReader reads the runtime's evidence.
type runtimeReader func() runtimeSample

// goRuntime returns a reader of this process's runtime histograms.
func goRuntime() runtimeReader {
	supported := map[string]bool{}
	for _, d := range metrics.All() {
		supported[d.Name] = d.Kind == metrics.KindFloat64Histogram
	}
	gcName := runtimeGCPauses
	if !supported[gcName] {
		gcName = runtimeGCPausesOld
	}
	has := supported[runtimeSchedLatencies] && supported[gcName]
	var bounds [2][]float64 // kept from the first read: the runtime's are fixed
	var tracker osTracker
	return func() runtimeSample {
		rs := runtimeSample{os: tracker.read(), gc: readGC()}
		if !has {
			return rs
		}
		samples := []metrics.Sample{{Name: runtimeSchedLatencies}, {Name: gcName}}
		metrics.Read(samples)
		var out [2]histogram
		for i := range samples {
			if samples[i].Value.Kind() != metrics.KindFloat64Histogram {
				return rs
			}
			out[i] = fromRuntime(samples[i].Value.Float64Histogram(), &bounds[i])
		}
		rs.sched, rs.gcPauses, rs.hasRuntime = out[0], out[1], true
		return rs
	}
}

// fromRuntime converts a runtime histogram, whose bucket i holds values in
// [Buckets[i], Buckets[i+1]), to an explicit histogram with the same
// buckets. *bounds caches the upper bounds between reads.
func fromRuntime(h *metrics.Float64Histogram, bounds *[]float64) histogram {
	upper := h.Buckets[1:]
	inf := len(upper) > 0 && math.IsInf(upper[len(upper)-1], 1)
	if inf {
		upper = upper[:len(upper)-1]
	}
	if !slices.Equal(*bounds, upper) {
		*bounds = slices.Clone(upper)
	}
	counts := make([]uint64, len(*bounds)+1)
	copy(counts, h.Counts)
	return newExplicit(*bounds, counts, 0, false)
}

// osRunQueue is the time this process's threads spent runnable but waiting
// for a CPU in the operating system's run queues, and how many times they
// were put on a CPU: Linux's /proc/self/task/*/schedstat (run_delay and
// pcount). A loaded host or a CPU quota stalls goroutines that the Go
// scheduler counts as running; this sees it.
type osRunQueue struct {
	waitSeconds float64
	timeslices  uint64
	ok          bool
}

// osTracker turns the per-thread schedstat counters into one total since
// it was made: threads that exit take their counters with them, so it sums
// each thread's growth, and counts a thread that appeared later whole.
type osTracker struct {
	last   map[int][2]uint64 // thread id → run_delay ns, timeslices
	total  osRunQueue
	primed bool
}

func (t *osTracker) read() osRunQueue {
	threads, err := procfs.AllThreads(os.Getpid())
	if err != nil {
		return osRunQueue{}
	}
	if t.last == nil {
		t.last = make(map[int][2]uint64, len(threads))
	}
	seen := false
	for _, th := range threads {
		s, err := th.Schedstat()
		if err != nil {
			continue // the thread exited
		}
		seen = true
		prev, known := t.last[th.PID]
		if (known || t.primed) && s.WaitingNanoseconds >= prev[0] && s.RunTimeslices >= prev[1] {
			t.total.waitSeconds += float64(s.WaitingNanoseconds-prev[0]) / 1e9
			t.total.timeslices += s.RunTimeslices - prev[1]
		}
		t.last[th.PID] = [2]uint64{s.WaitingNanoseconds, s.RunTimeslices}
	}
	t.primed = true
	t.total.ok = seen
	return t.total
}
