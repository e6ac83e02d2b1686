package redisinstr_test

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/redisinstr"
)

// TestTraceShapeWithCommandSpans builds what an application builds, the
// executor and redisinstr with command spans on one client, and checks the
// trace of start-up and of one operation: no span without a parent except
// the operations themselves; the operation span INTERNAL and its Redis
// commands CLIENT spans below it; only semconv v1.43 database keys.
func TestTraceShapeWithCommandSpans(t *testing.T) {
	rdb := redistest.Client(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	mp := sdkmetric.NewMeterProvider()
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })

	// The executor is told that the client's commands get spans.
	e, err := otelexec.New(rdb, otelexec.WithTracerProvider(tp), otelexec.WithMeterProvider(mp), otelexec.WithRedisCommandSpans(true))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := redisinstr.Instrument(rdb, redisinstr.WithTracerProvider(tp), redisinstr.WithMeterProvider(mp),
		redisinstr.WithCommandSpans(true), redisinstr.WithProbeInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond) // a few probes, which must make no spans
	ns := redistest.Namespace(t)
	if _, err := e.SetLinkedPod(ctx, ns, "u", "svc", 1, otelexec.PersistForever); err != nil {
		t.Fatal(err)
	}

	spans := rec.Ended()
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
	}
	ops := map[string]bool{}
	commands := 0
	for _, s := range spans {
		for _, kv := range s.Attributes() {
			if kv.Key == "db.system" || kv.Key == "db.statement" || kv.Key == "db.operation" {
				t.Errorf("span %s carries %s, a pre-1.26 semconv key", s.Name(), kv.Key)
			}
		}
		parent, hasParent := byID[s.Parent().SpanID()]
		switch s.SpanKind() {
		case trace.SpanKindInternal:
			ops[s.Name()] = true
			if s.Parent().IsValid() {
				t.Errorf("operation span %s has a parent in a test that gave it none", s.Name())
			}
		case trace.SpanKindClient:
			commands++
			if !hasParent || parent.SpanKind() != trace.SpanKindInternal {
				t.Errorf("command span %s is not a child of an operation span (parent %v)", s.Name(), s.Parent().SpanID())
			}
		default:
			t.Errorf("span %s of kind %v", s.Name(), s.SpanKind())
		}
	}
	if !ops["LoadScripts"] || !ops["SetLinkedPod"] {
		t.Errorf("operation spans %v, want LoadScripts and SetLinkedPod", ops)
	}
	if commands < 2 {
		t.Errorf("%d command spans, want the SCRIPT LOADs and the EVALSHA", commands)
	}
}
