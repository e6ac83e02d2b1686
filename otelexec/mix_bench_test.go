package otelexec

import (
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/redistest"
)

// BenchmarkRoutingMix is a stateful router's request mix, as
// docs/benchmarks.md reports it: 70% lookups (GetLinkedPod), 12% logins (ComputeLinkedPod),
// 8% TrySetLinkedPod, 10% logouts (RemoveLinkedPod with a grace period),
// over 10k users and 16 live pods, with metrics and 100% tracing (the
// executor fully instrumented). The variants: pipelining=off|on
// (WithAutoPipelining), goroutines=1|50, and linkcache=on, the lookups
// answered by WithLinkCache (pipelining on). It reports, beside time per
// request, the p99 latency of a request, and the client's and Redis's CPU
// per request.
//
//	go test -run '^$' -bench BenchmarkRoutingMix -benchtime 2s -count 10 ./otelexec > mix.txt
//	benchstat -col /pipelining mix.txt
func BenchmarkRoutingMix(b *testing.B) {
	for _, goroutines := range []int{1, 50} {
		for _, pipelining := range []string{"off", "on"} {
			b.Run("goroutines="+strconv.Itoa(goroutines)+"/pipelining="+pipelining, func(b *testing.B) {
				benchRoutingMix(b, goroutines, WithAutoPipelining(pipelining == "on"))
			})
		}
		b.Run("goroutines="+strconv.Itoa(goroutines)+"/pipelining=on/linkcache=on", func(b *testing.B) {
			benchRoutingMix(b, goroutines, WithAutoPipelining(true), WithLinkCache(100*time.Millisecond))
		})
	}
}

const mixUsers = 10_000

func benchRoutingMix(b *testing.B, goroutines int, extra ...Option) {
	c := redis.NewClient(&redis.Options{Addr: redistest.Addr(b), ContextTimeoutEnabled: true, PoolSize: 64})
	b.Cleanup(func() { _ = c.Close() })
	ns := redistest.Namespace(b)
	opts := append(routingProviders(b), extra...)
	e, err := New(c, opts...)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := e.LoadScripts(ctx); err != nil {
		b.Fatal(err)
	}
	for pod := range routingPods {
		if err := e.SetServiceState(ctx, ns, routingService, pod, FormatPodState(pod%4, time.Now())); err != nil {
			b.Fatal(err)
		}
	}
	uids := make([]string, mixUsers)
	for i := range uids {
		uids[i] = "user-" + strconv.Itoa(i)
	}
	request := func(rng *rand.Rand) error {
		uid := uids[rng.IntN(len(uids))]
		var err error
		switch r := rng.IntN(100); {
		case r < 70:
			_, err = e.GetLinkedPod(ctx, ns, uid, routingService)
		case r < 82:
			_, err = e.ComputeLinkedPod(ctx, ns, uid, routingService, routingAliveWithin, routingPersist)
		case r < 90:
			_, _, err = e.TrySetLinkedPod(ctx, ns, uid, routingService, rng.IntN(routingPods), routingPersist)
		default:
			_, err = e.RemoveLinkedPod(ctx, ns, uid, routingService, 30)
		}
		return err
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
