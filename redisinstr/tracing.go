package redisinstr

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// gatedTracerProvider hands redisotel tracers that stop making spans once
// the Instrumentation is closed (go-redis cannot remove redisotel's hook)
// and never make them for the prober's PINGs.
type gatedTracerProvider struct {
	embedded.TracerProvider
	tp     trace.TracerProvider
	closed *atomic.Bool
}

func (p gatedTracerProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return gatedTracer{tracer: p.tp.Tracer(name, opts...), closed: p.closed}
}

type gatedTracer struct {
	embedded.Tracer
	tracer trace.Tracer
	closed *atomic.Bool
}

var noopTracer = noop.NewTracerProvider().Tracer("")

func (t gatedTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if t.closed.Load() || ctx.Value(probeKey{}) != nil {
		// A non-recording span: redisotel ends it and may record an error
		// on it, which must not reach the caller's span.
		return noopTracer.Start(ctx, name)
	}
	return t.tracer.Start(ctx, name, opts...)
}
