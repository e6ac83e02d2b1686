package otelexec

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
)

// The benchmarks behind the overhead goals of docs/benchmarks.md. Each one
// puts its variants side by side in one benchmark, so one run gives every
// ratio.

// instrumentation is one way of getting telemetry for an executor
// operation: the executor's own (noop, metrics, metrics+tracing providers),
// or redisotel's hooks on the client under an uninstrumented executor.
type instrumentation struct {
	name     string
	executor func(mp metric.MeterProvider, tp trace.TracerProvider) []Option
	client   func(b *testing.B, c *redis.Client, mp metric.MeterProvider, tp trace.TracerProvider)
}

var noProviders = []Option{WithMeterProvider(metricnoop.NewMeterProvider()), WithTracerProvider(tracenoop.NewTracerProvider())}

func goalInstrumentations() []instrumentation {
	none := func(*testing.B, *redis.Client, metric.MeterProvider, trace.TracerProvider) {}
	return []instrumentation{
		{"bare", func(metric.MeterProvider, trace.TracerProvider) []Option { return noProviders }, none},
		{"metrics", func(mp metric.MeterProvider, _ trace.TracerProvider) []Option {
			return []Option{WithMeterProvider(mp), WithTracerProvider(tracenoop.NewTracerProvider())}
		}, none},
		{"metrics+tracing", func(mp metric.MeterProvider, tp trace.TracerProvider) []Option {
			return []Option{WithMeterProvider(mp), WithTracerProvider(tp)}
		}, none},
		{"redisotel-metrics", func(metric.MeterProvider, trace.TracerProvider) []Option { return noProviders },
			func(b *testing.B, c *redis.Client, mp metric.MeterProvider, _ trace.TracerProvider) {
				if err := redisotel.InstrumentMetrics(c, redisotel.WithMeterProvider(mp)); err != nil {
					b.Fatal(err)
				}
			}},
		{"redisotel-defaults", func(metric.MeterProvider, trace.TracerProvider) []Option { return noProviders },
			func(b *testing.B, c *redis.Client, mp metric.MeterProvider, tp trace.TracerProvider) {
				if err := redisotel.InstrumentTracing(c, redisotel.WithTracerProvider(tp)); err != nil {
					b.Fatal(err)
				}
				if err := redisotel.InstrumentMetrics(c, redisotel.WithMeterProvider(mp)); err != nil {
					b.Fatal(err)
				}
			}},
	}
}

// goalProviders are sdkProviders with every span sampled, as the goals of
// docs/benchmarks.md set them up.
func goalProviders(b *testing.B) (metric.MeterProvider, trace.TracerProvider) {
	return sdkProviders(b, sdktrace.AlwaysSample())
}

// BenchmarkInstrumentationCPU is the CPU and allocations of one executor
// operation when Redis answers without I/O (the innermost go-redis hook
// answers): impl=bare is the executor and go-redis alone, the others add
// one kind of telemetry. Cost of a kind = its time − bare's.
func BenchmarkInstrumentationCPU(b *testing.B) {
	ops := []struct {
		name string
		call func(ctx context.Context, e *Executor) error
	}{
		{"GetLinkedPod", func(ctx context.Context, e *Executor) error {
			_, err := e.GetLinkedPod(ctx, "ns", "user-1", "game")
			return err
		}},
		{"SetLinkedPod", func(ctx context.Context, e *Executor) error {
			_, err := e.SetLinkedPod(ctx, "ns", "user-1", "game", 3, PersistForever)
			return err
		}},
	}
	for _, op := range ops {
		for _, in := range goalInstrumentations() {
			b.Run("op="+op.name+"/impl="+in.name, func(b *testing.B) {
				mp, tp := goalProviders(b)
				c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
				b.Cleanup(func() { _ = c.Close() })
				in.client(b, c, mp, tp)
				c.AddHook(answerHook{}) // innermost: added last
				e, err := New(c, in.executor(mp, tp)...)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = e.Close() })
				ctx := context.Background()
				b.ReportAllocs()
				cpu := startCPU()
				for b.Loop() {
					if err := op.call(ctx, e); err != nil {
						b.Fatal(err)
					}
				}
				cpu.report(b)
			})
		}
	}
}

// BenchmarkOpTelemetry is the instrumentation alone: starting and ending
// one operation, with no Redis command in between.
func BenchmarkOpTelemetry(b *testing.B) {
	for _, in := range goalInstrumentations()[:3] {
		b.Run("impl="+in.name, func(b *testing.B) {
			mp, tp := goalProviders(b)
			benchStartEnd(b, in.executor(mp, tp)...)
		})
	}
	// impl=sdk-floor is the least any instrumentation can do with the same
	// providers and the same telemetry: one SDK span carrying the same
	// attributes, one histogram Record and one counter Add, the span's
	// context handed on. What
	// metrics+tracing costs above it is the executor's own share; the
	// rest belongs to the SDK.
	b.Run("impl=sdk-floor", func(b *testing.B) {
		mp, tp := goalProviders(b)
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
		b.Cleanup(func() { _ = c.Close() })
		tel, err := newTelemetry(&config{meterProvider: mp, tracerProvider: tp}, c, &scriptCounters{})
		if err != nil {
			b.Fatal(err)
		}
		tracer := tp.Tracer(ScopeName)
		sets := &tel.meters.plain[contract.OpGetLinkedPod]
		// Kind and attributes as start options, prebuilt as the executor does.
		start := tel.spans[contract.OpGetLinkedPod]
		ctx := context.Background()
		b.ReportAllocs()
		cpu := startCPU()
		for b.Loop() {
			began := time.Now()
			spanCtx, span := tracer.Start(ctx, "GetLinkedPod", start...)
			tel.meters.duration.Record(spanCtx, time.Since(began).Seconds(), sets.duration...)
			tel.meters.ops.Add(spanCtx, 1, sets.ok...)
			span.End()
		}
		cpu.report(b)
	})
}

// BenchmarkSampling is start + end of one operation with metrics and
// tracing under the sampler most deployments use instead of AlwaysSample,
// ParentBased(TraceIDRatioBased(ratio)), for a root operation. An unsampled
// operation still carries a non-recording span in its context, so its
// trace ID reaches the commands below it and any outgoing request.
func BenchmarkSampling(b *testing.B) {
	for _, ratio := range []string{"0", "0.01", "0.1", "1"} {
		b.Run("ratio="+ratio, func(b *testing.B) {
			r, err := strconv.ParseFloat(ratio, 64)
			if err != nil {
				b.Fatal(err)
			}
			mp, tp := sdkProviders(b, sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)))
			benchStartEnd(b, WithMeterProvider(mp), WithTracerProvider(tp))
		})
	}
}

// benchStartEnd runs start + end of one GetLinkedPod operation, with no
// Redis command in between, on an executor with opts.
func benchStartEnd(b *testing.B, opts ...Option) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	b.Cleanup(func() { _ = c.Close() })
	e, err := New(c, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	ctx := context.Background()
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		var err error
		_, op := e.tel.startFor(ctx, contract.OpGetLinkedPod, "ns", "game")
		op.end(&err)
	}
	cpu.report(b)
}

// BenchmarkSDKSpan takes the SDK's span apart: start and end of one span
// with AlwaysSample, with no span processor or with a batch processor whose
// exporter discards, and with no attributes or the executor's four (given as
// the executor gives them, as start options). No sfotel code runs; it says
// which part of impl=sdk-floor above is the span's attributes and which the
// batch queue.
func BenchmarkSDKSpan(b *testing.B) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	b.Cleanup(func() { _ = c.Close() })
	for _, processor := range []string{"none", "batch"} {
		for _, attrs := range [][]attribute.KeyValue{nil, spanAttributesOK(b, c)} {
			b.Run("processor="+processor+"/attrs="+strconv.Itoa(len(attrs)), func(b *testing.B) {
				opts := []sdktrace.TracerProviderOption{sdktrace.WithSampler(sdktrace.AlwaysSample())}
				if processor == "batch" {
					opts = append(opts, sdktrace.WithBatcher(discardExporter{}))
				}
				tp := sdktrace.NewTracerProvider(opts...)
				b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
				tracer := tp.Tracer(ScopeName)
				start := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
				if attrs != nil {
					start = append(start, trace.WithAttributes(attrs...))
				}
				ctx := context.Background()
				b.ReportAllocs()
				cpu := startCPU()
				for b.Loop() {
					_, span := tracer.Start(ctx, "GetLinkedPod", start...)
					span.End()
				}
				cpu.report(b)
			})
		}
	}
}

// spanAttributesOK are the attributes of a GetLinkedPod span on c.
func spanAttributesOK(_ testing.TB, c *redis.Client) []attribute.KeyValue {
	return append([]attribute.KeyValue{semconv.DBSystemNameRedis, semconv.DBQuerySummary("GetLinkedPod")}, serverAttributes(c)...)
}

// cpuClock measures the process CPU time a benchmark loop used. On a shared
// machine wall time per op grows with everyone else's load; CPU time much
// less. It includes the garbage collector and background goroutines (the
// span batch processor), which are part of the cost.
type cpuClock struct {
	start time.Duration
	ok    bool
}

func startCPU() cpuClock {
	t, ok := processCPU()
	return cpuClock{t, ok}
}

func (c cpuClock) report(b *testing.B) {
	t, ok := processCPU()
	if c.ok && ok && b.N > 0 {
		b.ReportMetric(float64(t-c.start)/float64(b.N), "cpu-ns/op")
	}
}

// serverCPU measures the CPU time Redis used during a benchmark loop, from
// INFO cpu. With the client's cpu-ns/op it splits an operation's cost
// between the two processes: when both share the machine's cores, the
// throughput loss of a variant is bounded by its added CPU over the total.
type serverCPU struct {
	c     *redis.Client
	start time.Duration
}

func startServerCPU(b *testing.B, c *redis.Client) serverCPU {
	t, err := redisCPU(c)
	if err != nil {
		b.Fatal(err)
	}
	return serverCPU{c, t}
}

func (s serverCPU) report(b *testing.B) {
	t, err := redisCPU(s.c)
	if err != nil {
		b.Fatal(err)
	}
	if b.N > 0 {
		b.ReportMetric(float64(t-s.start)/float64(b.N), "redis-cpu-ns/op")
	}
}

// redisCPU is used_cpu_sys + used_cpu_user of INFO cpu.
func redisCPU(c *redis.Client) (time.Duration, error) {
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		return 0, err
	}
	var total float64
	for line := range strings.Lines(info) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (k != "used_cpu_sys" && k != "used_cpu_user") {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("INFO cpu %s: %w", k, err)
		}
		total += f
	}
	return time.Duration(total * float64(time.Second)), nil
}

// BenchmarkThroughput50 is SetServiceState (one HSET) on the real Redis from
// 50 goroutines, for each instrumentation; impl=go-redis is a bare go-redis
// HSET, the anchor. Throughput = 1 / sec/op; loss = sec/op ratio − 1.
func BenchmarkThroughput50(b *testing.B) {
	addr := redistest.Addr(b)
	impls := append([]instrumentation{{name: "go-redis"}}, goalInstrumentations()[:3]...)
	impls = append(impls, goalInstrumentations()[4]) // redisotel-defaults
	for _, in := range impls {
		b.Run("impl="+in.name, func(b *testing.B) {
			mp, tp := goalProviders(b)
			c := redis.NewClient(&redis.Options{Addr: addr})
			b.Cleanup(func() { _ = c.Close() })
			ns := redistest.Namespace(b)
			var set func(ctx context.Context, pod int) error
			if in.executor == nil {
				key := stateKey(ns, "game")
				set = func(ctx context.Context, pod int) error {
					return c.HSet(ctx, key, strconv.Itoa(pod), "5-1764000000").Err()
				}
			} else {
				in.client(b, c, mp, tp)
				e, err := New(c, in.executor(mp, tp)...)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = e.Close() })
				set = func(ctx context.Context, pod int) error {
					return e.SetServiceState(ctx, ns, "game", pod, "5-1764000000")
				}
			}
			var gid atomic.Int64
			b.SetParallelism(parallelism50())
			b.ReportAllocs()
			serverCPU := startServerCPU(b, c)
			cpu := startCPU()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				pod := int(gid.Add(1))
				for pb.Next() {
					if err := set(ctx, pod); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			cpu.report(b)
			serverCPU.report(b)
		})
	}
}
