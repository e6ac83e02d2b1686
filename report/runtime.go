package report

import (
	"math"
	"os"
	"runtime/metrics"
	"slices"

	"github.com/prometheus/procfs"
)

// runtimeMetrics are what goRuntime reads from runtime/metrics, whatever
// runtime metrics the process set up: the scheduling latency and GC pause
// histograms; the GC's cycles and settings, and its CPU time (assists,
// dedicated workers, pauses: what it takes from the calls) against the
// process's, idle time and idle marking aside.
var runtimeMetrics = []string{
	"/sched/latencies:seconds", "/sched/pauses/total/gc:seconds",
	"/gc/cycles/total:gc-cycles", "/gc/gogc:percent", "/gc/heap/live:bytes",
	"/cpu/classes/total:cpu-seconds", "/cpu/classes/idle:cpu-seconds", "/cpu/classes/gc/mark/idle:cpu-seconds",
	"/cpu/classes/gc/mark/assist:cpu-seconds", "/cpu/classes/gc/mark/dedicated:cpu-seconds", "/cpu/classes/gc/pause:cpu-seconds",
}

// gcWork is the garbage collector's work, cumulative, and its settings.
type gcWork struct {
	cycles      uint64
	cpuSeconds  float64 // GC's CPU time taken from other work: assists, dedicated workers, pauses
	busySeconds float64 // the process's Go CPU time, idle and idle-time marking excluded
	gogc        uint64
	liveBytes   uint64
	ok          bool
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

// goRuntime returns a reader of this process's runtime evidence.
func goRuntime() runtimeReader {
	var bounds [2][]float64 // kept from the first read: the runtime's are fixed
	var tracker osTracker
	return func() runtimeSample {
		s := make([]metrics.Sample, len(runtimeMetrics))
		for i, name := range runtimeMetrics {
			s[i].Name = name
		}
		metrics.Read(s)
		rs := runtimeSample{os: tracker.read()}
		if s[0].Value.Kind() == metrics.KindFloat64Histogram && s[1].Value.Kind() == metrics.KindFloat64Histogram {
			rs.sched = fromRuntime(s[0].Value.Float64Histogram(), &bounds[0])
			rs.gcPauses = fromRuntime(s[1].Value.Float64Histogram(), &bounds[1])
			rs.hasRuntime = true
		}
		if !slices.ContainsFunc(s[2:], func(v metrics.Sample) bool { return v.Value.Kind() == metrics.KindBad }) {
			f := func(i int) float64 { return s[i].Value.Float64() }
			rs.gc = gcWork{cycles: s[2].Value.Uint64(), gogc: s[3].Value.Uint64(), liveBytes: s[4].Value.Uint64(),
				busySeconds: f(5) - f(6) - f(7), cpuSeconds: f(8) + f(9) + f(10), ok: true}
		}
		return rs
	}
}

// fromRuntime converts a runtime histogram, whose bucket i holds values in
// [Buckets[i], Buckets[i+1]), to an explicit histogram with the same
// buckets. *bounds caches the upper bounds between reads.
func fromRuntime(h *metrics.Float64Histogram, bounds *[]float64) histogram {
	upper := h.Buckets[1:]
	if len(upper) > 0 && math.IsInf(upper[len(upper)-1], 1) {
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
