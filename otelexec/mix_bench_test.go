package otelexec

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/statefulroute/sfotel/internal/redistest"
)

// BenchmarkRoutingMix is a stateful router's request mix against the real
// Redis, as docs/benchmarks.md ("Fast by default") reports it, with the
// executor's defaults against a naive executor and against go-redis alone.
// Two mixes of GetLinkedPod / ComputeLinkedPod / TrySetLinkedPod /
// RemoveLinkedPod (with a 30 s grace), over 16 live pods:
// mix=lookup 70/12/8/10 over 10k users, mix=login 10/70/5/15 over 1M users;
// each from goroutines=1 and 50. The variants (impl=):
//
//   - naive: the plain executor a first version would be: the Lua scripts
//     sent by EVAL with their full text on every call, a lookup as one GET,
//     a login as naiveRouter's, and per call a client_golang counter and
//     histogram with labels; no tracing.
//   - floor: go-redis alone sending the executor's commands as the executor
//     does (HGET+GET, HGETALL with a login's read, EVALSHA), autopipelined
//     from 50 goroutines, directly from one; no telemetry, no checks, no
//     parsing. What the executor costs is its distance from here.
//   - defaults: New(rdb) with no telemetry (noop providers).
//   - metrics+10%: SDK metrics (ManualReader) and ParentBased(TraceIDRatioBased(0.1))
//     into a batch processor whose exporter discards.
//   - metrics+10%+link-cache: the same with WithLinkCache(100ms), lookups
//     answered from memory.
//   - metrics+100%: the same with every span sampled.
//   - metrics+100%+state-cache, metrics+100%+pipelining-off: the opt-in
//     WithStateCache(time.Second) and the opt-out WithAutoPipelining(false).
//
// Beside time per request it reports the p99 latency of a request and the
// client's (getrusage) and Redis's (INFO cpu) CPU per request. Each request
// builds its uid (one allocation, in every variant).
//
//	SUITES=routing-mix bash scripts/bench.sh   # benchstat -col /impl: each variant against naive
func BenchmarkRoutingMix(b *testing.B) {
	for _, m := range routingMixes {
		for _, goroutines := range []int{1, 50} {
			for _, impl := range mixImpls {
				b.Run("mix="+m.name+"/goroutines="+strconv.Itoa(goroutines)+"/impl="+impl.name, func(b *testing.B) {
					benchRoutingMix(b, m, goroutines, impl.open)
				})
			}
		}
	}
}

type routingMix struct {
	name    string
	users   int
	weights [3]int // % GetLinkedPod, ComputeLinkedPod, TrySetLinkedPod; RemoveLinkedPod the rest
}

var routingMixes = []routingMix{{"lookup", 10_000, [3]int{70, 12, 8}}, {"login", 1_000_000, [3]int{10, 70, 5}}}

// mixOps are the four operations of the mix, on one namespace and service.
type mixOps struct {
	get, compute, trySet, remove func(ctx context.Context, uid string, pod int) error
}

// mixImpls open each variant over c, for a run from goroutines.
var mixImpls = []struct {
	name string
	open func(b *testing.B, c *redis.Client, goroutines int, ns string) mixOps
}{
	{"naive", openNaive},
	{"floor", openFloor},
	{"defaults", executorMix(func(*testing.B) []Option { return noProviders })},
	{"metrics+10%", executorMix(func(b *testing.B) []Option {
		mp, tp := sdkProviders(b, sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1)))
		return []Option{WithMeterProvider(mp), WithTracerProvider(tp)}
	})},
	{"metrics+10%+link-cache", executorMix(func(b *testing.B) []Option {
		mp, tp := sdkProviders(b, sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1)))
		return []Option{WithMeterProvider(mp), WithTracerProvider(tp), WithLinkCache(100 * time.Millisecond)}
	})},
	{"metrics+100%", executorMix(routingProviders)},
	{"metrics+100%+state-cache", executorMix(func(b *testing.B) []Option {
		return append(routingProviders(b), WithStateCache(routingStateTTL))
	})},
	{"metrics+100%+pipelining-off", executorMix(func(b *testing.B) []Option {
		return append(routingProviders(b), WithAutoPipelining(false))
	})},
}

func executorMix(options func(*testing.B) []Option) func(*testing.B, *redis.Client, int, string) mixOps {
	return func(b *testing.B, c *redis.Client, _ int, ns string) mixOps {
		e, err := New(c, options(b)...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = e.Close() })
		if err := e.LoadScripts(context.Background()); err != nil {
			b.Fatal(err)
		}
		return mixOps{
			get: func(ctx context.Context, uid string, _ int) error {
				_, err := e.GetLinkedPod(ctx, ns, uid, routingService)
				return err
			},
			compute: func(ctx context.Context, uid string, _ int) error {
				_, err := e.ComputeLinkedPod(ctx, ns, uid, routingService, routingAliveWithin, routingPersist)
				return err
			},
			trySet: func(ctx context.Context, uid string, pod int) error {
				_, _, err := e.TrySetLinkedPod(ctx, ns, uid, routingService, pod, routingPersist)
				return err
			},
			remove: func(ctx context.Context, uid string, _ int) error {
				_, err := e.RemoveLinkedPod(ctx, ns, uid, routingService, 30)
				return err
			},
		}
	}
}

// openNaive is impl=naive: naiveRouter's login, the scripts by EVAL, and
// client_golang metrics per call.
func openNaive(_ *testing.B, c *redis.Client, _ int, ns string) mixOps {
	reg := prometheus.NewRegistry()
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "executor_calls_total"}, []string{"op", "status"})
	seconds := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "executor_call_seconds"}, []string{"op"})
	reg.MustRegister(calls, seconds)
	n, s := naiveRouter{rdb: c, script: loadScripts().setIfAbsent.src}, loadScripts()
	measured := func(op string, call func(ctx context.Context, key, uid string, pod int) error) func(context.Context, string, int) error {
		return func(ctx context.Context, uid string, pod int) error {
			start := time.Now()
			err := call(ctx, linkKey(ns, uid, routingService), uid, pod)
			status := "ok"
			if err != nil && !errors.Is(err, redis.Nil) {
				status = "error"
			}
			calls.WithLabelValues(op, status).Inc()
			seconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
			return err
		}
	}
	return mixOps{
		get: measured("GetLinkedPod", func(ctx context.Context, key, _ string, _ int) error {
			return ignoreNil(c.Get(ctx, key).Err())
		}),
		compute: measured("ComputeLinkedPod", func(ctx context.Context, _, uid string, _ int) error {
			_, err := n.computeLinkedPod(ctx, ns, uid, routingService)
			return err
		}),
		trySet: measured("TrySetLinkedPod", func(ctx context.Context, key, _ string, pod int) error {
			return c.Eval(ctx, s.trySet.src, []string{key[:len(key)-len(routingService)], key},
				routingService, pod, routingPersist).Err()
		}),
		remove: measured("RemoveLinkedPod", func(ctx context.Context, key, _ string, _ int) error {
			return c.Eval(ctx, s.remove.src, []string{key[:len(key)-len(routingService)], key}, routingService, 30).Err()
		}),
	}
}

// openFloor is impl=floor: the executor's commands, sent by go-redis alone.
func openFloor(b *testing.B, c *redis.Client, goroutines int, ns string) mixOps {
	var ap *redis.AutoPipeliner // nil: direct, as the executor sends a lone caller's commands
	if goroutines > 1 {
		var err error
		if ap, err = c.AsyncAutoPipelineWithOptions(autoPipelineOptions()); err != nil {
			b.Fatal(err)
		}
	}
	s := loadScripts()
	for _, sc := range []*script{s.setIfAbsent, s.trySet, s.remove} {
		if err := c.ScriptLoad(context.Background(), sc.src).Err(); err != nil {
			b.Fatal(err)
		}
	}
	send := func(ctx context.Context, cmds ...redis.Cmder) error {
		if ap == nil && len(cmds) == 1 {
			return ignoreNil(c.Process(ctx, cmds[0]))
		}
		if ap == nil {
			_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, cmd := range cmds {
					_ = p.Process(ctx, cmd)
				}
				return nil
			})
			return ignoreNil(err)
		}
		var futures [3]redis.AutoFuture
		for i, cmd := range cmds {
			futures[i] = ap.Submit(ctx, cmd)
		}
		for _, f := range futures[:len(cmds)] {
			if err := ignoreNil(f.Wait()); err != nil {
				return err
			}
		}
		return nil
	}
	evalSha := func(ctx context.Context, sc *script, key string, args ...any) error {
		return send(ctx, redis.NewCmd(ctx, append([]any{"evalsha", sc.sha, 2, key[:len(key)-len(routingService)], key}, args...)...))
	}
	read := func(ctx context.Context, key string, states *redis.MapStringStringCmd) (field, link *redis.StringCmd, err error) {
		field = redis.NewStringCmd(ctx, "hget", key[:len(key)-len(routingService)], routingService)
		link = redis.NewStringCmd(ctx, "get", key)
		if states == nil {
			return field, link, send(ctx, field, link)
		}
		return field, link, send(ctx, field, link, states)
	}
	return mixOps{
		get: func(ctx context.Context, uid string, _ int) error {
			_, _, err := read(ctx, linkKey(ns, uid, routingService), nil)
			return err
		},
		compute: func(ctx context.Context, uid string, _ int) error {
			key := linkKey(ns, uid, routingService)
			states := redis.NewMapStringStringCmd(ctx, "hgetall", stateKey(ns, routingService))
			field, link, err := read(ctx, key, states)
			if err != nil || field.Err() == nil || link.Err() == nil {
				return err
			}
			ch := newChooser(time.Now(), routingAliveWithin)
			if chooseRaw(&ch, states.Val()); ch.pod < 0 {
				return errors.New("no live pod")
			}
			return evalSha(ctx, s.setIfAbsent, key, routingService, ch.pod, routingPersist)
		},
		trySet: func(ctx context.Context, uid string, pod int) error {
			return evalSha(ctx, s.trySet, linkKey(ns, uid, routingService), routingService, pod, routingPersist)
		},
		remove: func(ctx context.Context, uid string, _ int) error {
			return evalSha(ctx, s.remove, linkKey(ns, uid, routingService), routingService, 30)
		},
	}
}

func ignoreNil(err error) error {
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

func benchRoutingMix(b *testing.B, m routingMix, goroutines int, open func(*testing.B, *redis.Client, int, string) mixOps) {
	c := redis.NewClient(&redis.Options{Addr: redistest.Addr(b), ContextTimeoutEnabled: true, PoolSize: 64})
	b.Cleanup(func() { _ = c.Close() })
	ns := redistest.Namespace(b)
	ctx := context.Background()
	for pod := range routingPods {
		if err := c.HSet(ctx, stateKey(ns, routingService), strconv.Itoa(pod), FormatPodState(pod%4, time.Now())).Err(); err != nil {
			b.Fatal(err)
		}
	}
	ops := open(b, c, goroutines, ns)
	request := func(rng *rand.Rand) error {
		uid, pod := "user-"+strconv.Itoa(rng.IntN(m.users)), rng.IntN(routingPods)
		switch r := rng.IntN(100); {
		case r < m.weights[0]:
			return ops.get(ctx, uid, pod)
		case r < m.weights[0]+m.weights[1]:
			return ops.compute(ctx, uid, pod)
		case r < m.weights[0]+m.weights[1]+m.weights[2]:
			return ops.trySet(ctx, uid, pod)
		default:
			return ops.remove(ctx, uid, pod)
		}
	}

	var (
		mu        sync.Mutex
		latencies []time.Duration
		seed      atomic.Uint64
	)
	b.ReportAllocs()
	serverCPU := startServerCPU(b, c)
	cpu := startCPU()
	b.ResetTimer()
	if goroutines == 1 {
		rng := rand.New(rand.NewPCG(1, seed.Add(1)))
		for b.Loop() {
			start := time.Now()
			if err := request(rng); err != nil {
				b.Fatal(err)
			}
			latencies = append(latencies, time.Since(start))
		}
	} else {
		b.SetParallelism((goroutines + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(1, seed.Add(1)))
			var own []time.Duration
			for pb.Next() {
				start := time.Now()
				if err := request(rng); err != nil {
					b.Error(err)
					return
				}
				own = append(own, time.Since(start))
			}
			mu.Lock()
			latencies = append(latencies, own...)
			mu.Unlock()
		})
	}
	b.StopTimer()
	cpu.report(b)
	serverCPU.report(b)
	if len(latencies) > 0 {
		slices.Sort(latencies)
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
	}
}
