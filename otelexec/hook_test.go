package otelexec

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// answerHook answers every command without I/O, so measurements taken
// through it show the cost of the executor and its instrumentation alone.
// GET answers "3", EVALSHA 1, HGETALL an empty hash, writes OK.
type answerHook struct{}

func (answerHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (answerHook) ProcessHook(redis.ProcessHook) redis.ProcessHook {
	return func(_ context.Context, cmd redis.Cmder) error {
		answer(cmd)
		return nil
	}
}

func (answerHook) ProcessPipelineHook(redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(_ context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			answer(cmd)
		}
		return nil
	}
}

var emptyHash = map[string]string{}

func answer(cmd redis.Cmder) {
	if w, ok := cmd.(interface{ Unwrap() redis.Cmder }); ok {
		cmd = w.Unwrap()
	}
	switch c := cmd.(type) {
	case *redis.StringCmd:
		c.SetVal("3")
	case *redis.Cmd:
		c.SetVal(int64(1))
	case *redis.IntCmd:
		c.SetVal(1)
	case *redis.StatusCmd:
		c.SetVal("OK")
	case *redis.MapStringStringCmd:
		c.SetVal(emptyHash)
	}
}

// newHookClient returns a client whose commands never leave the process.
func newHookClient(tb testing.TB) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	rdb.AddHook(answerHook{})
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// discardExporter takes spans and drops them, so a batch processor in front
// of it does all its usual work except the network.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// sdkProviders are SDK providers as an application would set them up:
// metrics on a ManualReader, spans chosen by sampler into a batch processor
// whose exporter discards.
func sdkProviders(tb testing.TB, sampler sdktrace.Sampler) (metric.MeterProvider, trace.TracerProvider) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sampler),
		sdktrace.WithBatcher(discardExporter{}))
	tb.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	return mp, tp
}

// providers are the provider variants the allocation tests and benchmarks compare.
type providers struct {
	name string
	tp   trace.TracerProvider
	mp   metric.MeterProvider
}

func providerVariants(tb testing.TB) []providers {
	mp, tp := sdkProviders(tb, sdktrace.AlwaysSample())
	return []providers{
		{"noop", tracenoop.NewTracerProvider(), metricnoop.NewMeterProvider()},
		{"metrics", tracenoop.NewTracerProvider(), mp},
		{"metrics+tracing", tp, mp},
	}
}

// TestInstrumentationAllocations measures, through the no-I/O hook, the
// allocations the instrumentation adds to an operation: none for metrics,
// at most 5 for a span and metrics. The noop variant is the baseline: it is
// the executor's own work plus go-redis's. The span's five are the SDK's:
// the span, its context, its attributes (copied once into the start
// config, so that samplers see them, and once into the span), and its
// snapshot at End.
func TestInstrumentationAllocations(t *testing.T) {
	skipUnderRace(t)
	ctx := context.Background()
	// A failed call costs two allocations more with tracing: the span's
	// status description is err.Error(), and error.type grows the span's
	// attributes.
	ops := []struct {
		name         string
		call         func(*Executor)
		tracingLimit float64
	}{
		{"GetLinkedPod", func(e *Executor) { _, _ = e.GetLinkedPod(ctx, "ns", "u", "svc") }, 5},
		{"SetLinkedPod", func(e *Executor) { _, _ = e.SetLinkedPod(ctx, "ns", "u", "svc", 1, -1) }, 5},
		// The routing decision's counts and the pods it saw are recorded too.
		{"ComputeLinkedPod", func(e *Executor) { _, _ = e.ComputeLinkedPod(ctx, "ns", "u", "svc", time.Minute, -1) }, 5},
		{"GetLinkedPod/invalid", func(e *Executor) { _, _ = e.GetLinkedPod(ctx, "ns", "", "svc") }, 7},
	}
	for _, o := range ops {
		var base float64
		for _, p := range providerVariants(t) {
			e, err := New(newHookClient(t), WithTracerProvider(p.tp), WithMeterProvider(p.mp))
			if err != nil {
				t.Fatal(err)
			}
			o.call(e) // warm up lazily built state
			n := testing.AllocsPerRun(2000, func() { o.call(e) })
			if p.name == "noop" {
				base = n
			}
			extra := n - base
			t.Logf("%s provider=%s: %.1f allocs/op (%+.1f over noop)", o.name, p.name, n, extra)
			limit := 0.0
			if p.name == "metrics+tracing" {
				limit = o.tracingLimit
			}
			if extra > limit {
				t.Errorf("%s provider=%s: instrumentation adds %.1f allocs/op, limit %.0f", o.name, p.name, extra, limit)
			}
			_ = e.Close()
		}
	}
}

// TestServiceAttributesAllocations: after the first call of a (namespace,
// service) pair, recording with WithServiceAttributes allocates nothing more
// than recording without.
func TestServiceAttributesAllocations(t *testing.T) {
	skipUnderRace(t)
	ctx := context.Background()
	p := providerVariants(t)[1]
	var counts [2]float64
	for i, on := range []bool{false, true} {
		e, err := New(newHookClient(t), WithTracerProvider(p.tp), WithMeterProvider(p.mp), WithServiceAttributes(on))
		if err != nil {
			t.Fatal(err)
		}
		call := func() { _, _ = e.GetLinkedPod(ctx, "ns", "u", "svc") }
		call()
		counts[i] = testing.AllocsPerRun(2000, call)
	}
	if counts[1] > counts[0] {
		t.Fatalf("WithServiceAttributes: %.1f allocs/op, without: %.1f", counts[1], counts[0])
	}
}

func skipUnderRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("allocation counts differ under -race; run go test without -race (make test does both)")
	}
}

// TestNoopCostsNothing: with the noop providers the executor allocates no
// more than go-redis does for the same commands, key building included:
// GetLinkedPod is one pipeline of HGET (the user's link hash) and GET (the
// link key).
func TestNoopCostsNothing(t *testing.T) {
	skipUnderRace(t)
	ctx := context.Background()
	rdb := newHookClient(t)
	e, err := New(rdb, WithTracerProvider(tracenoop.NewTracerProvider()), WithMeterProvider(metricnoop.NewMeterProvider()))
	if err != nil {
		t.Fatal(err)
	}
	// Names only known at run time, as the executor's are: go-redis boxes
	// each argument, which costs nothing for a constant.
	ns, uid, svc := runtimeNames[0], runtimeNames[1], runtimeNames[2]
	raw := testing.AllocsPerRun(2000, func() {
		key := "sf:{" + ns + ":lk:" + uid + "}" + svc
		p := rdb.Pipeline()
		p.HGet(ctx, key[:len(key)-len(svc)], svc)
		p.Get(ctx, key)
		_, _ = p.Exec(ctx)
	})
	executor := testing.AllocsPerRun(2000, func() { _, _ = e.GetLinkedPod(ctx, ns, uid, svc) })
	if executor > raw {
		t.Fatalf("noop executor: %.1f allocs/op, go-redis pipeline of HGET and GET: %.1f", executor, raw)
	}
}

var runtimeNames = []string{"ns", "u", "svc"}
