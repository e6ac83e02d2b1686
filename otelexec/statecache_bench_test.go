package otelexec

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/statefulroute/sfotel/internal/redistest"
)

// The state cache's benchmarks (docs/benchmarks.md, "The state cache at
// many services" and "Parsing once"). Run them with
//
//	SUITES='state-cache' bash scripts/bench.sh
//
// which interleaves the variants round by round; benchstat -col /cache or
// /impl then compares them.

// stateBenchPods is the pods of each service of BenchmarkStateCacheServices.
const stateBenchPods = 16

// stateBenchBounded is how many of BenchmarkStateCacheServices' services
// the cache=bounded variant's byte bound holds, so at 2000 and 10000
// services it evicts on almost every miss.
const stateBenchBounded = 1000

// BenchmarkStateCacheServices is the state read at 100, 1000, 2000 and
// 10000 services of 16 pods each, from 50 goroutines against the real Redis,
// the services read in turn (request k reads service k mod N), as a login
// loop over many services does; every ComputeLinkedPod is for a new user, so
// each one reads the states. cache=off is the executor without a state
// cache (one HGETALL per read), cache=on has WithStateCache(time.Minute)
// with the default byte bound (every service fits), and cache=bounded a byte
// bound that holds stateBenchBounded services, so above that the cache
// misses and evicts on nearly every read. The cached variants read every
// service once before the timer starts. hits/read is the cache's hit ratio,
// cache-B the bytes it accounts at the end. Goal: at every N, cache=on and
// cache=bounded are no slower than cache=off.
func BenchmarkStateCacheServices(b *testing.B) {
	for _, n := range []int{100, 1000, 2000, 10000} {
		b.Run("services="+strconv.Itoa(n), func(b *testing.B) {
			ns := redistest.Namespace(b)
			seedServices(b, ns, n, stateBenchPods)
			bounded := stateBenchBounded * entryBytesOf(b, ns)
			for _, op := range []string{"GetServiceState", "ComputeLinkedPod"} {
				for _, cache := range []string{"off", "on", "bounded"} {
					b.Run("op="+op+"/cache="+cache, func(b *testing.B) {
						benchmarkServices(b, ns, n, op, cache, bounded)
					})
				}
			}
		})
	}
}

func benchmarkServices(b *testing.B, ns string, n int, op, cache string, bounded int64) {
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(b), PoolSize: 64, ContextTimeoutEnabled: true})
	b.Cleanup(func() { _ = rdb.Close() })
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	opts := []Option{WithMeterProvider(mp), WithTracerProvider(tracenoop.NewTracerProvider())}
	switch cache {
	case "on":
		opts = append(opts, WithStateCache(time.Minute))
	case "bounded":
		opts = append(opts, WithStateCache(time.Minute), WithStateCacheMaxBytes(bounded))
	}
	e, err := New(rdb, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	ctx := context.Background()
	if err := e.LoadScripts(ctx); err != nil {
		b.Fatal(err)
	}
	services := make([]string, n)
	for i := range services {
		services[i] = "svc" + strconv.Itoa(i)
		if e.states != nil {
			if _, err := e.GetServiceState(ctx, ns, services[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36) + "-" // users of their own
	var next atomic.Int64
	var hits, misses uint64
	if e.states != nil {
		hits, misses = e.states.hits.Load(), e.states.misses.Load()
	}
	b.SetParallelism(parallelism50())
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := next.Add(1)
			svc := services[k%int64(n)]
			var err error
			if op == "GetServiceState" {
				_, err = e.GetServiceState(ctx, ns, svc)
			} else {
				var pod int
				pod, err = e.ComputeLinkedPod(ctx, ns, run+strconv.FormatInt(k, 10), svc, time.Hour, routingPersist)
				if err == nil && pod < 0 {
					b.Errorf("%s: no live pod", svc)
					return
				}
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if e.states != nil {
		h, m := e.states.hits.Load()-hits, e.states.misses.Load()-misses
		b.ReportMetric(float64(h)/float64(max(h+m, 1)), "hits/read")
		b.ReportMetric(float64(e.states.size()), "cache-B")
	}
}

// seedServices writes n services of the given number of pods, all live:
// pod p of every service has load p%5.
func seedServices(b *testing.B, ns string, n, pods int) {
	c := redistest.Client(b)
	ctx := context.Background()
	now := time.Now()
	for start := 0; start < n; start += 1000 {
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for s := start; s < min(start+1000, n); s++ {
				fields := make([]any, 0, 2*pods)
				for pod := range pods {
					fields = append(fields, strconv.Itoa(pod), FormatPodState(pod%5, now))
				}
				p.HSet(ctx, stateKey(ns, "svc"+strconv.Itoa(s)), fields...)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// entryBytesOf is what the cache accounts for one of seedServices'
// services (its admission table left out).
func entryBytesOf(b *testing.B, ns string) int64 {
	e, err := New(redistest.Client(b), WithStateCache(time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	if _, err := e.GetServiceState(context.Background(), ns, "svc0"); err != nil {
		b.Fatal(err)
	}
	return e.states.size() - doorBytes(len(e.states.door))
}

// stateBenchHash is a pod state hash of the given size as HGETALL returns
// it: loads 0..99 at random, heartbeats now, one pod in four in
// milliseconds, one in ten dead for an hour.
func stateBenchHash(pods int, now time.Time) map[string]string {
	rng := rand.New(rand.NewPCG(uint64(pods), 7))
	raw := make(map[string]string, pods)
	for pod := range pods {
		at := now
		if rng.IntN(10) == 0 {
			at = now.Add(-time.Hour)
		}
		state := FormatPodState(rng.IntN(100), at)
		if rng.IntN(4) == 0 {
			state = strconv.Itoa(rng.IntN(100)) + "-" + strconv.FormatInt(at.UnixMilli(), 10)
		}
		raw[strconv.Itoa(pod)] = state
	}
	return raw
}

// BenchmarkStateCacheChoose is ComputeLinkedPod's choice of a pod over one
// service's states held in memory, at 16, 1000 and 5000 pods, without
// Redis: impl=reparse is what a cached ComputeLinkedPod did before the
// states were parsed once (choosePod over the map GetServiceState returns,
// parsing every state on every call), impl=parsed what it does now (one
// pass over parsedStates), impl=raw the uncached path's pass over the
// HGETALL reply (parsing the fields and states as it chooses). Goal:
// impl=parsed ≤ 25 µs at 5000 pods.
func BenchmarkStateCacheChoose(b *testing.B) {
	now := time.Now()
	for _, pods := range []int{16, 1000, 5000} {
		raw := stateBenchHash(pods, now)
		states, _ := parseStateHash(raw)
		parsed, err := parseStates(raw)
		if err != nil {
			b.Fatal(err)
		}
		want, _ := choosePod(states, now, time.Minute)
		impls := map[string]func() int{
			"reparse": func() int { pod, _ := choosePod(states, now, time.Minute); return pod },
			"parsed":  func() int { return parsed.choose(chooserAt(now, time.Minute)) },
			"raw":     func() int { pod, _, _ := chooseRaw(chooserAt(now, time.Minute), raw); return pod },
		}
		for _, impl := range []string{"reparse", "parsed", "raw"} {
			b.Run("pods="+strconv.Itoa(pods)+"/impl="+impl, func(b *testing.B) {
				choose := impls[impl]
				b.ReportAllocs()
				for b.Loop() {
					if pod := choose(); pod != want {
						b.Fatalf("chose pod %d, want %d", pod, want)
					}
				}
			})
		}
	}
}

// BenchmarkStateCacheCompute is a whole ComputeLinkedPod for a new user on a
// service of 16 or 5000 pods, with Redis answered in the process (a go-redis
// hook replies: no link, the service's states, the link set), so it
// measures the executor's own CPU per call (cpu-ns/op, the process's CPU
// time over the calls): cache=on reads the states from the state cache
// (parsed once, on the first call), cache=off parses the HGETALL reply on
// every call. Goal: cache=on at 5000 pods costs ≤ 25 µs more than at 16.
func BenchmarkStateCacheCompute(b *testing.B) {
	for _, pods := range []int{16, 5000} {
		hook := &computeHook{raw: stateBenchHash(pods, time.Now())}
		for _, cache := range []string{"off", "on"} {
			b.Run("pods="+strconv.Itoa(pods)+"/cache="+cache, func(b *testing.B) {
				rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
				b.Cleanup(func() { _ = rdb.Close() })
				rdb.AddHook(hook)
				opts := noProviders
				if cache == "on" {
					opts = append(opts[:len(opts):len(opts)], WithStateCache(time.Minute))
				}
				e, err := New(rdb, opts...)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = e.Close() })
				ctx := context.Background()
				if _, err := e.ComputeLinkedPod(ctx, "ns", "warm-up", "game", time.Hour, 60); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				cpu := startCPU()
				for b.Loop() {
					if pod, err := e.ComputeLinkedPod(ctx, "ns", "user", "game", time.Hour, 60); err != nil || pod < 0 {
						b.Fatalf("ComputeLinkedPod = %d, %v", pod, err)
					}
				}
				cpu.report(b)
			})
		}
	}
}

// computeHook answers ComputeLinkedPod's commands without I/O: the link
// read finds no link, HGETALL (alone or in the link read's pipeline) returns raw, and the link script links the
// user to the pod it was given.
type computeHook struct{ raw map[string]string }

func (*computeHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *computeHook) ProcessHook(redis.ProcessHook) redis.ProcessHook {
	return func(_ context.Context, cmd redis.Cmder) error {
		if w, ok := cmd.(interface{ Unwrap() redis.Cmder }); ok {
			cmd = w.Unwrap()
		}
		switch c := cmd.(type) {
		case *redis.MapStringStringCmd:
			c.SetVal(h.raw)
		case interface{ SetVal(any) }: // the EVALSHA: ... podID persistSeconds
			args := cmd.Args()
			pod, _ := strconv.Atoi(args[len(args)-2].(string))
			c.SetVal(int64(pod))
		default:
			answer(cmd)
		}
		return nil
	}
}

func (h *computeHook) ProcessPipelineHook(redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(_ context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds { // HGET and GET of the link: none; HGETALL the states
			if w, ok := cmd.(interface{ Unwrap() redis.Cmder }); ok {
				cmd = w.Unwrap()
			}
			if c, ok := cmd.(*redis.MapStringStringCmd); ok {
				c.SetVal(h.raw)
			} else {
				cmd.SetErr(redis.Nil)
			}
		}
		return nil
	}
}
