package otelexec

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/redistest"
)

// Executor benchmarks, named so that benchstat compares the variants of one
// axis, for example:
//
//	go test -run '^$' -bench 'BenchmarkGetLinkedPod|BenchmarkSetLinkedPod' -count 6 ./otelexec > bench.txt
//	benchstat -col /provider bench.txt
//
// io=redis talks to the real Redis, io=hook to a go-redis hook that answers
// without I/O (the instrumentation's own CPU cost); goroutines=1 is serial,
// goroutines=50 uses b.SetParallelism. provider=raw is the same Redis command
// issued with go-redis directly, provider=noop the executor with the noop
// providers, then SDK metrics, then SDK metrics and tracing (AlwaysSample,
// batch processor, discarding exporter).

func BenchmarkGetLinkedPod(b *testing.B) {
	benchmarkOperation(b,
		func(ctx context.Context, rdb *redis.Client, ns string) error {
			// What GetLinkedPod sends: the hash field and the link key in
			// one pipeline.
			key := linkKey(ns, "user-1", "game")
			p := rdb.Pipeline()
			p.HGet(ctx, key[:len(key)-len("game")], "game")
			p.Get(ctx, key)
			if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			return nil
		},
		func(ctx context.Context, e *Executor, ns string) error {
			_, err := e.GetLinkedPod(ctx, ns, "user-1", "game")
			return err
		})
}

func BenchmarkSetLinkedPod(b *testing.B) {
	sha := loadScripts().setLinked.sha
	benchmarkOperation(b,
		func(ctx context.Context, rdb *redis.Client, ns string) error {
			return rdb.EvalSha(ctx, sha, linkKeys(ns, "user-1", "game"), "game", "3", "-1").Err()
		},
		func(ctx context.Context, e *Executor, ns string) error {
			_, err := e.SetLinkedPod(ctx, ns, "user-1", "game", 3, PersistForever)
			return err
		})
}

// BenchmarkScriptCall compares EVALSHA (what the executor sends) with EVAL of
// the same script, on the real Redis.
func BenchmarkScriptCall(b *testing.B) {
	rdb := redistest.Client(b)
	ns := redistest.Namespace(b)
	s := loadScripts().setLinked
	ctx := context.Background()
	if err := rdb.ScriptLoad(ctx, s.src).Err(); err != nil {
		b.Fatal(err)
	}
	keys := linkKeys(ns, "user-1", "game")
	for _, mode := range []string{"evalsha", "eval"} {
		b.Run("cmd="+mode, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if mode == "evalsha" {
					err = rdb.EvalSha(ctx, s.sha, keys, "game", "3", "-1").Err()
				} else {
					err = rdb.Eval(ctx, s.src, keys, "game", "3", "-1").Err()
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchGoroutines are the goroutine counts of the benchmarks.
var benchGoroutines = []int{1, 50}

func benchmarkOperation(b *testing.B,
	raw func(context.Context, *redis.Client, string) error,
	call func(context.Context, *Executor, string) error,
) {
	for _, io := range []string{"redis", "hook"} {
		for _, n := range benchGoroutines {
			for _, p := range append([]providers{{name: "raw"}}, providerVariants(b)...) {
				name := "io=" + io + "/goroutines=" + strconv.Itoa(n) + "/provider=" + p.name
				b.Run(name, func(b *testing.B) {
					rdb := benchClient(b, io)
					ns := "bench"
					opts := []Option{WithTracerProvider(p.tp), WithMeterProvider(p.mp)}
					if io == "redis" {
						ns = redistest.Namespace(b)
						ctx := context.Background()
						// The link that GetLinkedPod reads, and the script
						// that raw EVALSHA calls.
						if err := rdb.Set(ctx, linkKey(ns, "user-1", "game"), "3", 0).Err(); err != nil {
							b.Fatal(err)
						}
						if err := rdb.ScriptLoad(ctx, loadScripts().setLinked.src).Err(); err != nil {
							b.Fatal(err)
						}
					}
					var op func(context.Context) error
					if p.name == "raw" {
						op = func(ctx context.Context) error { return raw(ctx, rdb, ns) }
					} else {
						e, err := New(rdb, opts...)
						if err != nil {
							b.Fatal(err)
						}
						b.Cleanup(func() { _ = e.Close() })
						op = func(ctx context.Context) error { return call(ctx, e, ns) }
					}
					runBenchmark(b, n, op)
				})
			}
		}
	}
}

func benchClient(b *testing.B, io string) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(b), PoolSize: 64})
	b.Cleanup(func() { _ = rdb.Close() })
	if io == "hook" {
		rdb.AddHook(answerHook{})
	}
	return rdb
}

func runBenchmark(b *testing.B, goroutines int, op func(context.Context) error) {
	ctx := context.Background()
	if err := op(ctx); err != nil { // warm up: connections, lazily built state
		b.Fatal(err)
	}
	b.ReportAllocs()
	if goroutines == 1 {
		for b.Loop() {
			if err := op(ctx); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((goroutines + procs - 1) / procs)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
