package report

import (
	"fmt"
	"math"
	"strings"
)

// Causes of a slow tail, the cause field of a tail_latency suggestion.
const (
	CauseCPU     = "cpu"     // runnable goroutines waited for a CPU
	CauseGC      = "gc"      // the garbage collector stopped the world
	CausePool    = "pool"    // calls waited for a pooled connection
	CauseRedis   = "redis"   // Redis or the network answered slowly
	CauseUnclear = "unclear" // none of the measured delays explains it
)

// The tail diagnosis. A slow p99 means that at least 1% of the calls took
// much longer than the median. A cause explains it when it delayed calls by
// at least causeDelayShare of the tail's excess (p99 − p50), and hit at
// least causeMinHit of the calls: half of the 1% a p99 needs, for the
// slack in each estimate.
const (
	causeDelayShare = 0.5
	causeMinHit     = 0.005
	// minPingsForVerdict is how many pings the Redis cause needs.
	minPingsForVerdict = 10
	// A call waits for the scheduler at least once (when its reply
	// arrives) and rarely more than a few times; the scheduling events per
	// call, estimated from the counts, are kept within these.
	minWakeupsPerCall, maxWakeupsPerCall = 1.0, 4.0
)

// diagnosis is the cause of one slow tail, with the numbers compared.
type diagnosis struct {
	cause    string
	text     string
	evidence map[string]float64
}

// into appends the diagnosis to s. unclearHint says where to look when no
// measured delay explains the tail.
func (d diagnosis) into(s *Suggestion, unclearHint string) {
	s.Cause = d.cause
	s.Message += " " + d.text
	if d.cause == CauseUnclear {
		s.Message += " Look at " + unclearHint + "."
	}
	for k, v := range d.evidence {
		s.Evidence[k] = v
	}
}

// candidate is one possible cause: the share of the calls it delayed by at
// least the threshold, and how to say so.
type candidate struct {
	cause string
	hit   float64 // estimated share of calls delayed by ≥ threshold
	ok    bool    // the evidence is there at all
	text  string  // the numbers, for the message
}

func (c candidate) explains() bool { return c.ok && c.hit >= causeMinHit }

// diagnose names the cause of a tail with the given p50 and p99 from the
// evidence in r: the Go runtime's scheduling latency and GC pauses, the
// pools' waits and the prober's PINGs over the same window.
func diagnose(r *Report, p50, p99 float64) diagnosis {
	raw := rawOf(r)
	threshold := causeDelayShare * (p99 - p50)
	var calls uint64
	for i := range r.Operations {
		calls += r.Operations[i].Count
	}
	d := diagnosis{evidence: map[string]float64{"tail.delay_threshold_seconds": nanos(threshold)}}
	thr := formatSeconds(threshold)

	cpu := candidate{cause: CauseCPU}
	gc := candidate{cause: CauseGC}
	if raw.hasRuntime {
		share, _ := raw.sched.above(threshold)
		wakeups := minWakeupsPerCall
		if calls > 0 {
			wakeups = min(max(float64(raw.sched.count)/float64(calls), minWakeupsPerCall), maxWakeupsPerCall)
		}
		cpu.ok, cpu.hit = true, min(share*wakeups, 1)
		cpu.text = fmt.Sprintf("runnable goroutines waited more than %s for a CPU in %s of %d scheduling events (p99 %s), %.1f per call: an estimated %s of calls",
			thr, formatPercent(share), raw.sched.count, formatSeconds(r.Runtime.SchedulingLatency.P99Seconds), wakeups, formatPercent(cpu.hit))
		d.evidence["runtime.scheduling_latency.p99_seconds"] = r.Runtime.SchedulingLatency.P99Seconds
		d.evidence["runtime.scheduling_latency.share_above_threshold"] = share
		d.evidence["cause.cpu.calls_hit"] = cpu.hit
	}
	if q := r.Runtime; q != nil && q.OSRunQueue != nil && q.OSRunQueue.Timeslices > 0 {
		// The OS counts its run-queue waits and their total, not their
		// spread: as for the pool, a share exp(−threshold/mean) of them is
		// taken to reach the threshold.
		rq := q.OSRunQueue
		wakeups := minWakeupsPerCall
		if calls > 0 {
			wakeups = min(max(float64(rq.Timeslices)/float64(calls), minWakeupsPerCall), maxWakeupsPerCall)
		}
		var share float64
		if rq.MeanWaitSeconds > 0 {
			share = math.Exp(-threshold / rq.MeanWaitSeconds)
		}
		hit := min(share*wakeups, 1)
		text := fmt.Sprintf("the operating system kept this process's threads waiting for a CPU %s per timeslice on average (%s over %d timeslices): an estimated %s of calls waited longer than %s",
			formatSeconds(rq.MeanWaitSeconds), formatSeconds(rq.WaitSeconds), rq.Timeslices, formatPercent(hit), thr)
		d.evidence["runtime.os_run_queue.mean_wait_seconds"] = rq.MeanWaitSeconds
		d.evidence["cause.cpu.os_calls_hit"] = hit
		switch {
		case !cpu.ok:
			cpu.ok, cpu.hit, cpu.text = true, hit, text
		case hit > cpu.hit:
			cpu.hit, cpu.text = hit, text+"; "+cpu.text
		default:
			cpu.text += "; " + text
		}
	}
	if raw.hasRuntime && r.Window.Seconds > 0 {
		share, pausedSeconds := raw.gcPauses.above(threshold)
		n := share * float64(raw.gcPauses.count)
		// A call overlaps a long pause if it starts during it or is
		// running when it begins.
		gc.ok, gc.hit = true, min((pausedSeconds+n*p50)/r.Window.Seconds, 1)
		gc.text = fmt.Sprintf("%.0f GC pauses longer than %s stopped the world for %s in total (p99 pause %s): an estimated %s of calls",
			n, thr, formatSeconds(pausedSeconds), formatSeconds(r.Runtime.GCPauses.P99Seconds), formatPercent(gc.hit))
		d.evidence["runtime.gc_pauses.p99_seconds"] = r.Runtime.GCPauses.P99Seconds
		d.evidence["cause.gc.calls_hit"] = gc.hit
	}

	pool := candidate{cause: CausePool, ok: true}
	p := &r.Redis.Pool
	if p.Waits > 0 && calls > 0 {
		// The pool counts its waits and their total time, not their
		// spread; waits in a queue spread about exponentially, so a share
		// exp(−threshold/mean) of them is taken to reach the threshold.
		// A timeout waited the whole pool timeout.
		meanWait := p.WaitSeconds / float64(p.Waits)
		long := float64(p.Timeouts)
		if meanWait > 0 {
			long += float64(p.Waits) * math.Exp(-threshold/meanWait)
		}
		pool.hit = min(long/float64(calls), 1)
		pool.text = fmt.Sprintf("%d waits for a pooled connection (%s of %d calls) averaged %s: an estimated %s of calls waited longer than %s",
			p.Waits, formatPercent(float64(p.Waits)/float64(calls)), calls, formatSeconds(meanWait), formatPercent(pool.hit), thr)
		if p.Timeouts > 0 {
			pool.text += fmt.Sprintf(" and %d timed out", p.Timeouts)
		}
		d.evidence["redis.pool.mean_wait_seconds"] = nanos(meanWait)
		d.evidence["redis.pool.waits_per_call"] = float64(p.Waits) / float64(calls)
	} else {
		pool.text = "no call waited for a pooled connection"
	}
	d.evidence["cause.pool.calls_hit"] = pool.hit

	redis := candidate{cause: CauseRedis}
	if pg := r.Redis.Ping; pg != nil && pg.Count >= minPingsForVerdict {
		share, _ := raw.ping.above(threshold)
		redis.ok, redis.hit = true, share
		redis.text = fmt.Sprintf("%s of %d PINGs took longer than %s (PING p99 %s)",
			formatPercent(share), pg.Count, thr, formatSeconds(pg.P99Seconds))
		d.evidence["redis.ping.p99_seconds"] = pg.P99Seconds
		d.evidence["cause.redis.pings_hit"] = share
	}

	// This process's own delays come first: they slow PINGs down as well
	// (the prober's goroutine waits for the CPU like any other), so PINGs
	// name Redis or the network only when nothing here explains the tail.
	var best *candidate
	for _, c := range []*candidate{&cpu, &gc, &pool} {
		if c.explains() && (best == nil || c.hit > best.hit) {
			best = c
		}
	}
	if best == nil && redis.explains() {
		best = &redis
	}
	threshText := fmt.Sprintf("delays of at least %s (half the tail's p99 − p50) that hit %s of calls or more", thr, formatPercent(causeMinHit))
	if best == nil {
		d.cause = CauseUnclear
		d.text = "Cause unclear: no measured " + threshText + ": " + joinFindings(&cpu, &gc, &pool, &redis) + "."
		return d
	}
	d.cause = best.cause
	switch best.cause {
	case CauseCPU:
		d.text = "Cause: CPU starvation: " + best.text + ". Give this process more CPU (GOMAXPROCS, the container's limit, a less loaded host) or do less work beside the calls."
	case CauseGC:
		d.text = "Cause: GC pauses in this process: " + best.text + ". Allocate less, or raise GOGC or GOMEMLIMIT."
	case CausePool:
		d.text = "Cause: the connection pool: " + best.text + ". Raise the pool size (PoolSize) or lower the concurrency."
	case CauseRedis:
		d.text = "Cause: Redis or the network: " + best.text
		if cpu.ok {
			d.text += ", while this process's own delays explain none of it (" + joinFindings(&cpu, &gc, &pool) + ")"
		}
		d.text += ". Check Redis's latency (SLOWLOG, LATENCY DOCTOR, its CPU) and the network."
		if c := slowestCommand(r); c != nil {
			d.text += fmt.Sprintf(" The slowest command is %s, p99 %s.", c.Name, formatSeconds(c.P99Seconds))
			d.evidence[key("redis.command.p99_seconds", string(keyDBOperation), c.Name)] = c.P99Seconds
		}
	}
	var also []string
	for _, c := range []*candidate{&cpu, &gc, &pool, &redis} {
		if c != best && c.explains() {
			also = append(also, c.text)
		}
	}
	if len(also) > 0 {
		d.text += " Also: " + strings.Join(also, "; ") + "."
	}
	return d
}

// joinFindings lists what each candidate with evidence measured.
func joinFindings(cs ...*candidate) string {
	var parts []string
	for _, c := range cs {
		switch {
		case c.ok || c.text != "":
			parts = append(parts, c.text)
		case c.cause == CauseCPU:
			parts = append(parts, "no Go runtime data")
		case c.cause == CauseRedis:
			parts = append(parts, fmt.Sprintf("fewer than %d PINGs", minPingsForVerdict))
		}
	}
	return strings.Join(parts, "; ")
}

// slowestCommand is the Redis command with the highest p99, nil if none.
func slowestCommand(r *Report) *Command {
	var best *Command
	for i := range r.Redis.Commands {
		c := &r.Redis.Commands[i]
		if best == nil || c.P99Seconds > best.P99Seconds {
			best = c
		}
	}
	return best
}
