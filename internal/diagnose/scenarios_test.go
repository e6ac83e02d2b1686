package diagnose

import (
	"context"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/report"
)

// A scenario injects one cause for real. sizes[0] is the cause as an
// operator would see it (p99 several times the healthy p99), sizes[1] the
// same cause near the threshold of the rule that should name it.
type scenario struct {
	name string
	want []string // verdicts that name the injected cause
	// must is a rule that must be among the findings of every run: the
	// rule the scenario proves, when another may come first.
	must  string
	proxy bool // the executor reaches Redis through a proxy
	full  bool // only in the full form
	sizes []size
}

type size struct {
	label  string
	setup  setup
	inject func(ctx context.Context, e *env)
}

// The verdict of a report is its first finding: rule id, and /cause for a
// slow tail; "none" when the report raised nothing.
const none = "none"

var scenarios = []scenario{
	{name: "healthy", want: []string{none}, sizes: []size{{label: "real redis-server"}}},
	{name: "gc pressure", want: []string{"gc_pressure", "tail_latency/gc"}, sizes: []size{
		{label: "GOGC=10, 40 MB live, 200 MB/s garbage", setup: setup{gogc: 10}, inject: churn(200)},
		{label: "GOGC=40, 40 MB live, 100 MB/s garbage", setup: setup{gogc: 40}, inject: churn(100)},
	}},
	{name: "cpu starvation", want: []string{"tail_latency/cpu"}, sizes: []size{
		{label: "2×GOMAXPROCS goroutines computing 6 ms in 10", inject: spin(2, 0.6)},
		{label: "GOMAXPROCS goroutines computing 6 ms in 10", inject: spin(1, 0.6)},
	}},
	// Autopipelined (the default), the workers' commands share connections
	// and do not queue for the pool: the cause is a pool too small for
	// callers that send on their own.
	{name: "pool exhaustion", want: []string{"pool_exhaustion", "tail_latency/pool"}, sizes: []size{
		{label: "PoolSize 2, 16 workers, pipelining off", setup: setup{poolSize: 2, workers: 16, direct: true}},
		{label: "PoolSize 5, 16 workers, pipelining off", setup: setup{poolSize: 5, workers: 16, direct: true}},
	}},
	{name: "slow redis", want: []string{"tail_latency/redis"}, sizes: []size{
		{label: "Lua busy 20 ms every 100 ms", inject: busyScript(20*time.Millisecond, 100*time.Millisecond)},
		{label: "Lua busy 15 ms every 150 ms", inject: busyScript(15*time.Millisecond, 150*time.Millisecond)},
	}},
	{name: "network latency", want: []string{"slow_round_trip"}, proxy: true, sizes: []size{
		{label: "proxy +2 ms each way", inject: delay(2 * time.Millisecond)},
		{label: "proxy +0.6 ms each way", inject: delay(600 * time.Microsecond)},
	}},
	{name: "uniform slowdown", want: []string{"slow_round_trip"}, proxy: true, sizes: []size{
		{label: "every command held 3 ms", inject: hold(3 * time.Millisecond)},
		{label: "every command held 1.2 ms", inject: hold(1200 * time.Microsecond)},
	}},
	{name: "script flushes", want: []string{"script_reloads/flush"}, sizes: []size{
		{label: "SCRIPT FLUSH every second", inject: flush(time.Second)},
		{label: "one SCRIPT FLUSH", inject: flush(0)},
	}},
	{name: "failing calls", want: []string{"error_rate"}, sizes: []size{
		{label: "Redis out of memory: writes refused", inject: oom(0, 0)},
		{label: "out of memory 100 ms every 2.5 s", inject: oom(100*time.Millisecond, 2500*time.Millisecond)},
	}},
	{name: "large pod states", want: []string{"state_cache"}, sizes: []size{
		{label: "3000 pods per service, no state cache", setup: setup{pods: 3000}},
		{label: "2000 pods per service, no state cache", setup: setup{pods: 2000}},
	}},
	{name: "pods stop heartbeating", want: []string{report.RuleNoLivePod}, must: report.RuleNoLivePod, sizes: []size{
		{label: "every pod of match stops heartbeating", inject: heartbeats("match", livePods, silent(0))},
		{label: "every pod of match silent 4 s", inject: heartbeats("match", livePods, silent(4*time.Second))},
	}},
	{name: "clock behind", want: []string{report.RuleHeldOnDeadPods, report.RuleLinksMoved}, must: report.RuleHeldOnDeadPods, sizes: []size{
		{label: "2 of 8 pods of match write heartbeats 5 s old", inject: heartbeats("match", 2, behind(5*time.Second))},
		{label: "1 of 8 pods of match writes heartbeats 5 s old", inject: heartbeats("match", 1, behind(5*time.Second))},
	}},
	{name: "flapping pod", want: []string{report.RuleLinksMoved, report.RuleHeldOnDeadPods}, must: report.RuleLinksMoved, full: true, sizes: []size{
		{label: "2 of 8 pods of match stall their heartbeat 4 s in every 5", inject: heartbeats("match", 2, stall(4*time.Second, 5*time.Second))},
		{label: "1 of 8 pods of match stalls its heartbeat 4 s in every 5", inject: heartbeats("match", 1, stall(4*time.Second, 5*time.Second))},
	}},
	{name: "hot pod", want: []string{report.RuleLoadSpread}, must: report.RuleLoadSpread, full: true, sizes: []size{
		{label: "a gateway links every new match user to pod 0", inject: pin("match", 1)},
		{label: "a gateway links half the new match users to pod 0", inject: pin("match", 0.5)},
	}},
	{name: "redis restart", want: []string{"script_reloads/restart", "error_rate", "connection_down"}, sizes: []size{
		{label: "killed, back after 1 s", inject: restart(time.Second)},
		{label: "killed, back at once", inject: restart(0)},
	}},
}

// churn keeps 40 MB of small linked objects live and allocates mbps MB of
// garbage a second, so that a low GOGC collects dozens of times a second.
func churn(mbps int) func(context.Context, *env) {
	type node struct {
		next *node
		pad  [48]byte
	}
	return func(ctx context.Context, _ *env) {
		live := make([]*node, 0, 600_000)
		for range cap(live) {
			live = append(live, &node{})
		}
		var sink []byte
		const chunk = 1 << 20
		every(ctx, time.Second/time.Duration(mbps), func() {
			for range chunk / 4096 {
				sink = make([]byte, 4096)
			}
		})
		runtime.KeepAlive(live)
		_ = sink
	}
}

// spin runs perProc×GOMAXPROCS goroutines that compute for duty of every
// 10 ms.
func spin(perProc int, duty float64) func(context.Context, *env) {
	return func(ctx context.Context, _ *env) {
		n := perProc * runtime.GOMAXPROCS(0)
		done := make(chan struct{})
		for range n {
			go func() {
				defer func() { done <- struct{}{} }()
				busy := time.Duration(duty * float64(10*time.Millisecond))
				for ctx.Err() == nil {
					for t := time.Now(); time.Since(t) < busy; {
					}
					if duty < 1 {
						time.Sleep(10*time.Millisecond - busy)
					}
				}
			}()
		}
		for range n {
			<-done
		}
	}
}

// busyScript makes Redis run a Lua script that spins for d every period:
// every client waits while it runs.
func busyScript(d, period time.Duration) func(context.Context, *env) {
	const src = `local t = redis.call('TIME') local s = t[1]*1e6 + t[2]
repeat local n = redis.call('TIME') until n[1]*1e6 + n[2] - s >= tonumber(ARGV[1])`
	return func(ctx context.Context, e *env) {
		var ran, failed int
		every(ctx, period, func() {
			if err := e.side.Eval(context.WithoutCancel(ctx), src, nil, d.Microseconds()).Err(); err != nil && err != redis.Nil {
				failed++
				e.t.Logf("busy script: %v", err)
			} else {
				ran++
			}
		})
		e.t.Logf("busy script ran %d times, failed %d", ran, failed)
	}
}

func delay(d time.Duration) func(context.Context, *env) {
	return func(_ context.Context, e *env) { e.proxy.Delay(d) }
}

func hold(d time.Duration) func(context.Context, *env) {
	return func(_ context.Context, e *env) { e.proxy.Hold("", d) }
}

// flush flushes Redis's script cache every period, or once halfway
// through the window when period is 0.
func flush(period time.Duration) func(context.Context, *env) {
	return func(ctx context.Context, e *env) {
		if period == 0 {
			deadline, _ := ctx.Deadline()
			time.Sleep(time.Until(deadline) / 2)
			_ = e.side.ScriptFlush(context.WithoutCancel(ctx)).Err()
			return
		}
		every(ctx, period, func() { _ = e.side.ScriptFlush(ctx).Err() })
	}
}

// oom makes Redis refuse writes (maxmemory below what it holds, no
// eviction): for the whole window when period is 0, else for d every
// period.
func oom(d, period time.Duration) func(context.Context, *env) {
	set := func(ctx context.Context, e *env, v string) {
		if err := e.side.ConfigSet(context.WithoutCancel(ctx), "maxmemory", v).Err(); err != nil {
			e.t.Errorf("CONFIG SET maxmemory %s: %v", v, err)
		}
	}
	return func(ctx context.Context, e *env) {
		defer set(ctx, e, "0")
		if period == 0 {
			set(ctx, e, "1")
			<-ctx.Done()
			return
		}
		every(ctx, period, func() { set(ctx, e, "1"); time.Sleep(d); set(ctx, e, "0") })
	}
}

// restart kills redis-server a third into the window and starts it again
// after down.
func restart(down time.Duration) func(context.Context, *env) {
	return func(ctx context.Context, e *env) {
		deadline, _ := ctx.Deadline()
		time.Sleep(time.Until(deadline) / 3)
		e.srv.Kill()
		time.Sleep(down)
		if err := e.srv.Start(); err != nil {
			e.t.Errorf("restart redis-server: %v", err)
		}
	}
}

// A beatFault is the heartbeat a faulty pod writes at now, since from;
// false: it writes none.
type beatFault func(from, now time.Time) (time.Time, bool)

// heartbeats makes the first n pods of svc write their heartbeats as f
// says from the window's start.
func heartbeats(svc string, n int, f beatFault) func(context.Context, *env) {
	return func(_ context.Context, e *env) {
		from := time.Now()
		e.work.faults.Store(&faults{beat: func(s string, pod int, now time.Time) (time.Time, bool) {
			if s != svc || pod >= n {
				return now, true
			}
			return f(from, now)
		}})
	}
}

// silent: the heartbeat loop stops for d (0: for good), as when a pod dies.
func silent(d time.Duration) beatFault {
	return func(from, now time.Time) (time.Time, bool) {
		return now, d > 0 && now.Sub(from) >= d
	}
}

// behind: the pod's clock is d behind, so its heartbeats are d old.
func behind(d time.Duration) beatFault {
	return func(_, now time.Time) (time.Time, bool) { return now.Add(-d), true }
}

// stall: the heartbeat loop stalls for d in every period (a pod that stops
// the world now and then), so the pod flaps between live and dead.
func stall(d, period time.Duration) beatFault {
	return func(from, now time.Time) (time.Time, bool) {
		return now, now.Sub(from)%period >= d
	}
}

// pin makes a gateway link share of the new users of svc to pod 0 with
// SetLinkedPod, past the least-loaded choice.
func pin(svc string, share float64) func(context.Context, *env) {
	return func(_ context.Context, e *env) {
		e.work.faults.Store(&faults{pin: func(s string) int {
			if s == svc && rand.Float64() < share {
				return 0
			}
			return -1
		}})
	}
}
