package otelexec

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/statefulroute/sfotel/internal/contract"
)

// telemetry is one executor's instrumentation: its tracer, its instruments,
// and the span options of each operation, built once so that starting and
// ending an operation allocates nothing of the executor's own.
type telemetry struct {
	tracer   trace.Tracer // nil when the TracerProvider is the noop one
	meters   *meters      // nil when the MeterProvider is the noop one
	services bool         // WithServiceAttributes
	// spans are the start options of each operation's span (attributes
	// included, so that samplers see them), in the shape of docs/design.md,
	// "Trace shape": the CLIENT span of the Redis call, with db.system.name
	// and db.query.summary the method (db.operation.name is the commands'),
	// or INTERNAL without db attributes under command spans.
	spans [contract.NumOps][]trace.SpanStartOption
}

// errorAttrs are the error.type attribute of each class, one slice each, so
// ending a failed span allocates no slice for it.
var errorAttrs = func() (out [contract.NumErrorTypes][]attribute.KeyValue) {
	for et := contract.NoError + 1; et < contract.NumErrorTypes; et++ {
		out[et] = []attribute.KeyValue{semconv.ErrorTypeKey.String(et.String())}
	}
	return out
}()

func newTelemetry(c *config, rdb redis.UniversalClient, scripts *scriptCounters) (*telemetry, error) {
	t := &telemetry{services: c.serviceAttributes}
	if _, noop := c.tracerProvider.(tracenoop.TracerProvider); !noop {
		t.tracer = c.tracerProvider.Tracer(ScopeName, trace.WithInstrumentationVersion(Version))
	}
	cl, _ := clientOf(rdb)
	server := append(serverAttributes(rdb), semconv.DBNamespace(strconv.Itoa(cl.db)))
	for id := range contract.NumOps {
		attrs := append([]attribute.KeyValue{semconv.DBSystemNameRedis, semconv.DBQuerySummary(id.String())}, server...)
		t.spans[id] = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...)}
		if c.commandSpans {
			t.spans[id] = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal)}
		}
	}
	if _, noop := c.meterProvider.(metricnoop.MeterProvider); !noop {
		ms, err := newMeters(c.meterProvider, c.serviceAttributes)
		if err != nil {
			return nil, err
		}
		t.meters = ms
		scripts.hits.on(ms.scriptHits)
		scripts.misses.on(ms.scriptMisses)
		scripts.reloads.on(ms.scriptReloads)
	}
	return t, nil
}

// serverAttributes are server.address and server.port of a single-node
// client; a cluster, ring or failover client's nodes are on command spans.
func serverAttributes(rdb redis.UniversalClient) []attribute.KeyValue {
	c, ok := rdb.(*redis.Client)
	if !ok {
		return nil
	}
	o := c.Options()
	if o.Addr == "" || o.Addr == "FailoverClient" {
		return nil
	}
	host, port, err := net.SplitHostPort(o.Addr)
	if o.Network == "unix" || err != nil {
		return []attribute.KeyValue{semconv.ServerAddress(o.Addr)}
	}
	if p, err := strconv.Atoi(port); err == nil {
		return []attribute.KeyValue{semconv.ServerAddress(host), semconv.ServerPort(p)}
	}
	return []attribute.KeyValue{semconv.ServerAddress(host)}
}

// op is one running operation. It is a value, so starting and ending an
// operation allocates nothing of its own.
type op struct {
	ctx       context.Context
	tel       *telemetry
	span      trace.Span // nil when tracing is off
	start     int64      // monotonic(): reads the monotonic clock alone, not the wall clock
	namespace string     // only with WithServiceAttributes
	service   string
	id        contract.Op
}

// start begins an operation: a span when tracing is on, a timer when metrics
// are on. End it with defer op.end(&err).
func (t *telemetry) start(ctx context.Context, id contract.Op) (context.Context, op) {
	o := op{tel: t, id: id}
	if t.tracer != nil {
		ctx, o.span = t.tracer.Start(ctx, id.String(), t.spans[id]...)
	}
	if t.meters != nil {
		o.start = monotonic()
	}
	o.ctx = ctx
	return ctx, o
}

// startFor is start for an operation on one namespace and service, which
// WithServiceAttributes records as metric attributes.
func (t *telemetry) startFor(ctx context.Context, id contract.Op, namespace, service string) (context.Context, op) {
	ctx, o := t.start(ctx, id)
	if t.services {
		o.namespace, o.service = namespace, service
	}
	return ctx, o
}

// end records the operation's outcome: *errp nil is success.
func (o op) end(errp *error) {
	t := o.tel
	err := *errp
	et := contract.Classify(err)
	if err != nil && et == contract.NoError {
		et = contract.ErrorOther // redis.Nil escaped an operation: a bug, but a failure
	}
	if ms := t.meters; ms != nil {
		ms.record(&o, time.Duration(monotonic()-o.start).Seconds(), et)
	}
	if o.span == nil {
		return
	}
	if err != nil && o.span.IsRecording() {
		o.span.SetAttributes(errorAttrs[et]...)
		o.span.SetStatus(codes.Error, err.Error())
	}
	o.span.End()
}
