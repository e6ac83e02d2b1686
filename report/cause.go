package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/statefulroute/sfotel/internal/contract"
)

// Causes of a slow tail, the cause field of a tail_latency suggestion.
const (
	CauseCPU     = "cpu"     // runnable goroutines waited for a CPU
	CauseGC      = "gc"      // the garbage collector stopped the world or took the CPU
	CausePool    = "pool"    // calls waited for a pooled connection
	CauseRedis   = "redis"   // Redis or the network answered slowly
	CauseUnclear = "unclear" // none of the measured delays explains it
)

// Causes of lost scripts, the cause field of a script_reloads suggestion.
const (
	CauseFlush   = "flush"   // the cache was flushed, the connections stayed up
	CauseRestart = "restart" // Redis restarted or failed over: the connections were dialed anew
)

// The tail diagnosis. A slow p99 means that at least 1% of the calls took
// much longer than the median. A cause explains it when it delayed calls by
// at least causeDelayShare of the tail's excess (p99 − p50), and hit at
// least causeMinHit of the calls: half of the 1% a p99 needs, for the
// slack in each estimate.
const (
	causeDelayShare = 0.5
	causeMinHit     = 0.005
	// minPingsForVerdict is how many pings the Redis cause needs when the
	// report has no per-command latencies to judge it by.
	minPingsForVerdict = 10
	// A call waits for the scheduler at least once (when its reply
	// arrives) and rarely more than a few times; the scheduling events per
	// call, estimated from the counts, are kept within these.
	minWakeupsPerCall, maxWakeupsPerCall = 1.0, 4.0
	// gcHeavyShare: a collector that takes this share of the process's
	// CPU is a finding (gc_pressure), and what a CPU contention is made
	// of. A healthy router's GC takes a few percent, the suite's large
	// pod states a tenth.
	gcHeavyShare = 0.2
	// gcTargetShare is the GC CPU share the GOGC advice aims at.
	gcTargetShare = 0.05
)

// setupCommands are what go-redis sends when it opens a connection, alone
// or pipelined (HELLO, AUTH, SELECT, CLIENT SETINFO and SETNAME): their
// time is the dial's, not a command's, so no verdict rests on them.
var setupCommands = map[string]bool{"HELLO": true, "AUTH": true, "CLIENT": true, "SELECT": true}

// setupCommand reports whether a db.operation.name is a connection setup:
// the one test of both the raw histograms and the report's table.
func setupCommand(name string) bool {
	return setupCommands[strings.TrimPrefix(name, "PIPELINE ")]
}

// candidate is one possible cause: the share of the calls it delayed by at
// least the threshold, and how to say so.
type candidate struct {
	cause string
	hit   float64 // estimated share of calls delayed by ≥ threshold
	ok    bool    // the evidence is there at all
	text  string  // the numbers, for the message; what is missing when not ok
}

func (c candidate) explains() bool { return c.ok && c.hit >= causeMinHit }

// diagnose names in s the cause of a tail with the given p50 and p99 from
// the evidence in r: the Go runtime's scheduling latency, GC pauses and GC
// CPU time, the pools' waits, and the Redis commands' and PINGs' latencies
// over the same window. It adds the cause, its text, its knob, the share
// of calls it delayed as the weight, and the numbers compared as evidence;
// unclearHint says where to look when no measured delay explains the tail.
func diagnose(r view, p50, p99 float64, s *Suggestion, unclearHint string) {
	raw := r.raw
	threshold := causeDelayShare * (p99 - p50)
	calls, _ := r.calls()
	ev := s.Evidence
	ev["tail.delay_threshold_seconds"] = nanos(threshold)
	thr := formatSeconds(threshold)

	cpu := candidate{cause: CauseCPU, text: "no Go runtime data"}
	gc := candidate{cause: CauseGC}
	if raw.hasRuntime {
		share, _ := raw.sched.above(threshold)
		cpu.ok, cpu.hit = true, min(share*wakeupsPerCall(raw.sched.count, calls), 1)
		cpu.text = fmt.Sprintf("goroutines ready to run waited more than %s for a CPU in %s of scheduling events (p99 wait %s): about %s of calls",
			thr, formatPercent(share), formatSeconds(r.Runtime.SchedulingLatency.P99Seconds), formatPercent(cpu.hit))
		ev["runtime.scheduling_latency.p99_seconds"] = r.Runtime.SchedulingLatency.P99Seconds
		ev["cause.cpu.calls_hit"] = cpu.hit
	}
	if q := r.Runtime; q != nil && q.OSRunQueue != nil && q.OSRunQueue.Timeslices > 0 {
		rq := q.OSRunQueue
		hit := min(longer(threshold, rq.MeanWaitSeconds)*wakeupsPerCall(rq.Timeslices, calls), 1)
		text := fmt.Sprintf("the operating system kept this process's threads waiting %s per timeslice on average: about %s of calls waited longer than %s",
			formatSeconds(rq.MeanWaitSeconds), formatPercent(hit), thr)
		ev["runtime.os_run_queue.mean_wait_seconds"] = rq.MeanWaitSeconds
		if !cpu.ok || hit > cpu.hit {
			cpu.ok, cpu.hit, cpu.text = true, hit, text
		}
	}
	if raw.hasRuntime && r.Window.Seconds > 0 {
		share, pausedSeconds := raw.gcPauses.above(threshold)
		n := share * float64(raw.gcPauses.count)
		// A call overlaps a long pause if it starts during it or is
		// running when it begins.
		gc.ok, gc.hit = true, min((pausedSeconds+n*p50)/r.Window.Seconds, 1)
		gc.text = fmt.Sprintf("%.0f GC pauses longer than %s stopped the world for %s in total: about %s of calls",
			n, thr, formatSeconds(pausedSeconds), formatPercent(gc.hit))
		ev["cause.gc.calls_hit"] = gc.hit
	}
	if g := heavyGC(r); g != nil {
		// A collector this busy is what the CPU contention is made of:
		// its mark workers take Ps and its assists slow the allocating
		// calls. It wins over cpu, and over an unclear tail.
		gc.ok, gc.hit = true, max(gc.hit, cpu.hit, causeMinHit)
		gc.text = gcText(g)
		ev["runtime.gc.cpu_share"] = g.CPUShare
		ev["runtime.gc.cycles_per_second"] = g.CyclesPerSecond
	}

	pool := candidate{cause: CausePool, ok: true, text: "no call waited for a pooled connection"}
	p := &r.Redis.Pool
	if p.Waits > 0 && calls > 0 {
		// A timeout waited the whole pool timeout.
		meanWait := p.WaitSeconds / float64(p.Waits)
		pool.hit = min((float64(p.Timeouts)+float64(p.Waits)*longer(threshold, meanWait))/float64(calls), 1)
		pool.text = fmt.Sprintf("%d waits for a pooled connection (%s of calls) averaged %s: about %s of calls waited longer than %s",
			p.Waits, formatPercent(float64(p.Waits)/float64(calls)), formatSeconds(meanWait), formatPercent(pool.hit), thr)
		if p.Timeouts > 0 {
			pool.text += fmt.Sprintf(" and %d timed out", p.Timeouts)
		}
		ev["redis.pool.mean_wait_seconds"] = nanos(meanWait)
	}
	ev["cause.pool.calls_hit"] = pool.hit

	// Redis or the network: the share of the client's commands (the
	// connection handshakes aside) slower than the threshold, else of the
	// prober's PINGs when there are enough of them.
	redis := candidate{cause: CauseRedis, text: "no Redis command latencies"}
	if cmds, n := commandLatencies(raw); n > 0 {
		share, _ := cmds.above(threshold)
		redis.ok, redis.hit = true, share
		redis.text = fmt.Sprintf("%s of %d Redis commands took longer than %s", formatPercent(share), n, thr)
		ev["cause.redis.commands_hit"] = share
	} else if pg := r.Redis.Ping; pg != nil && pg.Count >= minPingsForVerdict {
		share, _ := raw.hist(contract.MetricPingDuration).above(threshold)
		redis.ok, redis.hit = true, share
		redis.text = fmt.Sprintf("%s of %d PINGs took longer than %s (PING p99 %s)",
			formatPercent(share), pg.Count, thr, formatSeconds(pg.P99Seconds))
		ev["cause.redis.pings_hit"] = share
	}

	// This process's own delays come first: they slow the commands and
	// PINGs down as well (their goroutines wait for the CPU like any
	// other), so these name Redis or the network only when nothing here
	// explains the tail. On ties the GC wins over the CPU it takes.
	var best *candidate
	for _, c := range []*candidate{&gc, &cpu, &pool} {
		if c.explains() && (best == nil || c.hit > best.hit) {
			best = c
		}
	}
	if best == nil && redis.explains() {
		best = &redis
	}
	if best == nil {
		s.Cause, s.weight = CauseUnclear, 0.01
		s.Message += fmt.Sprintf(" Cause unclear: no measured delay of at least %s (half the tail's p99 − p50) hit %s of calls or more: %s. Look at %s.",
			thr, formatPercent(causeMinHit), joinFindings(&cpu, &gc, &pool, &redis), unclearHint)
		return
	}
	s.Cause, s.weight = best.cause, max(best.hit, 0.01)
	switch best.cause {
	case CauseCPU:
		s.Message += " Cause: CPU starvation: " + best.text + ". Hint: give this process more CPU (the container's limit, GOMAXPROCS, a less loaded host) or do less work beside the calls."
	case CauseGC:
		s.Message += " Cause: the garbage collector: " + best.text + "."
		if g := heavyGC(r); g != nil {
			s.Knob, s.Value = "GOGC", gogcAdvice(g)
			s.Message += " " + gogcText(g, s.Value)
		} else {
			s.Message += " Hint: allocate less, or raise GOGC or GOMEMLIMIT."
		}
	case CausePool:
		s.Message += " Cause: the connection pool: " + best.text + "."
		if size := poolAdvice(r, &r.Redis.Pool); size > 0 {
			s.Knob, s.Value = "PoolSize", float64(size)
			s.Message += fmt.Sprintf(" Set PoolSize to %d.", size)
		}
	case CauseRedis:
		s.Message += " Cause: Redis or the network: " + best.text
		if cpu.ok {
			s.Message += ", while this process's own delays explain none of it (" + joinFindings(&cpu, &gc, &pool) + ")"
		} else {
			s.Message += "; this report has no Go runtime evidence, so a process short of CPU would look the same"
		}
		s.Message += ". Hint: check Redis's latency (SLOWLOG, LATENCY DOCTOR, its CPU) and the network."
		if c := highest(r.Redis.Commands, func(c *Command) (float64, bool) { return c.P99Seconds, !setupCommand(c.Name) }); c != nil {
			s.Message += fmt.Sprintf(" The slowest command is %s, p99 %s.", c.Name, formatSeconds(c.P99Seconds))
			ev[key("redis.command.p99_seconds", contract.AttrDBOperationName, c.Name)] = c.P99Seconds
		}
	}
}

// longer is the share of waits longer than t, given their mean. The OS
// run queue and the pool count their waits and total time, not their
// spread; waits in a queue spread about exponentially, so a share
// exp(−t/mean) of them is taken to reach t.
func longer(t, mean float64) float64 {
	if mean <= 0 {
		return 0
	}
	return math.Exp(-t / mean)
}

// wakeupsPerCall estimates the scheduling events per call from their
// counts, within minWakeupsPerCall..maxWakeupsPerCall.
func wakeupsPerCall(events, calls uint64) float64 {
	if calls == 0 {
		return minWakeupsPerCall
	}
	return min(max(float64(events)/float64(calls), minWakeupsPerCall), maxWakeupsPerCall)
}

// heavyGC is the report's GC work when the window saw collections that
// took gcHeavyShare of the CPU or more.
func heavyGC(r view) *GC {
	if r.Runtime == nil || r.Runtime.GC == nil || r.Runtime.GC.Cycles == 0 || r.Runtime.GC.CPUShare < gcHeavyShare {
		return nil
	}
	return r.Runtime.GC
}

// gcText says what the collector cost.
func gcText(g *GC) string {
	return fmt.Sprintf("the garbage collector ran %.0f times a second and took %s of this process's CPU (threshold %s) with GOGC=%d and %s live heap",
		g.CyclesPerSecond, formatPercent(g.CPUShare), formatPercent(gcHeavyShare), g.GOGC, formatBytes(g.LiveHeapBytes))
}

// gogcText advises GOGC=v and says what it costs in memory.
func gogcText(g *GC, v float64) string {
	return fmt.Sprintf("Set GOGC=%.0f: about %s fewer collections, for a heap of about %s (or GOMEMLIMIT to the memory it may use with GOGC=off).",
		v, formatPercent(1-float64(g.GOGC)/v), formatBytes(uint64(float64(g.LiveHeapBytes)*(1+v/100))))
}

// gogcAdvice is the GOGC that brings the GC's CPU share down to the
// target: a cycle's cost is about fixed (the live heap), and cycles come
// GOGC times less often, rounded up to a hundred.
func gogcAdvice(g *GC) float64 {
	gogc := float64(max(g.GOGC, 1))
	return math.Ceil(gogc*g.CPUShare/gcTargetShare/100) * 100
}

// commandLatencies merges the latencies of the client's commands, the
// connection handshakes aside, and counts them.
func commandLatencies(raw *rawData) (histogram, uint64) {
	var h histogram
	for a, s := range raw.series[contract.MetricCommandDuration] {
		if !setupCommand(a[0]) {
			h.merge(&s.hist)
		}
	}
	return h, h.count
}

// joinFindings lists what each candidate measured, or lacked.
func joinFindings(cs ...*candidate) string {
	var parts []string
	for _, c := range cs {
		if c.text != "" {
			parts = append(parts, c.text)
		}
	}
	return strings.Join(parts, "; ")
}

// formatBytes renders a size in MiB or KiB.
func formatBytes(b uint64) string {
	if b >= 1<<20 {
		return sig3(float64(b)/(1<<20)) + " MiB"
	}
	return sig3(float64(b)/(1<<10)) + " KiB"
}
