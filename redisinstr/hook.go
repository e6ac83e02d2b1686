package redisinstr

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/statefulroute/sfotel/internal/contract"
)

// commandHook records one node client's commands and pipelines: the
// db.client.operation.duration histogram, and a CLIENT span each when
// command spans are on. Everything an operation needs is built once: the
// record options per (operation, error class) on first use, the span start
// options per operation in newCommandHook. A command with metrics only
// costs two clock reads, a map lookup and the histogram update, and
// allocates nothing.
type commandHook struct {
	closed *atomic.Bool
	hist   metric.Float64Histogram // nil without command metrics
	tracer trace.Tracer            // nil without command spans
	query  bool                    // db.query.text on spans
	caller bool                    // code.* on spans

	base      []attribute.KeyValue // db.system.name, server.address, server.port
	opts      [numOps][contract.NumErrorTypes]atomic.Pointer[[]metric.RecordOption]
	spanStart [numOps][]trace.SpanStartOption
}

var _ redis.Hook = (*commandHook)(nil)

func newCommandHook(i *Instrumentation, c *redis.Client) *commandHook {
	o := c.Options()
	h := &commandHook{
		closed: &i.closed,
		hist:   i.inst.commandDuration,
		base:   append([]attribute.KeyValue{semconv.DBSystemNameRedis}, serverAttrs(o.Addr)...),
	}
	if i.cfg.commandSpans {
		h.tracer = i.tracer
		h.query, h.caller = i.cfg.queryText, i.cfg.callerInfo
		// The database index the client selects; a SELECT sent by hand
		// would make it wrong, which the conventions accept ("if it can be
		// captured reliably").
		namespace := semconv.DBNamespace(strconv.Itoa(o.DB))
		for op := range numOps {
			attrs := append(h.base[:len(h.base):len(h.base)], namespace)
			if name := operationNames[op]; name != "" {
				attrs = append(attrs, semconv.DBOperationName(name))
			}
			h.spanStart[op] = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...)}
		}
	}
	return h
}

func (h *commandHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *commandHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.closed.Load() || isIdentityCommand(cmd) {
			return next(ctx, cmd)
		}
		op := operationOf(cmd)
		var span trace.Span
		if h.tracer != nil && !handshake[op] {
			ctx, span = h.startSpan(ctx, op, 0)
			if h.query && span.IsRecording() {
				span.SetAttributes(semconv.DBQueryText(queryText(cmd)))
			}
		}
		start := time.Now()
		err := next(ctx, cmd)
		h.finish(ctx, op, start, span, err)
		return err
	}
}

func (h *commandHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.closed.Load() || isIdentityHandshake(cmds) {
			return next(ctx, cmds)
		}
		op := pipelineOperation(cmds)
		var span trace.Span
		if h.tracer != nil {
			ctx, span = h.startSpan(ctx, op, len(cmds))
			if h.query && span.IsRecording() {
				span.SetAttributes(semconv.DBQueryText(pipelineText(cmds)))
			}
		}
		start := time.Now()
		err := next(ctx, cmds)
		h.finish(ctx, op, start, span, err)
		return err
	}
}

// handshake marks the commands go-redis sends when it opens a connection,
// inside whichever command needed the connection: they make no spans, which
// would sit as CLIENT spans below another CLIENT span. Their durations are
// still recorded.
var handshake = func() (out [numOps]bool) {
	for _, name := range []string{"hello", "auth", "client", "select"} {
		out[commandIndex[name]] = true
	}
	return out
}()

// startSpan starts the CLIENT span of one command or pipeline, named after
// its db.operation.name (or "redis", the db.system.name, when unknown) as
// the conventions name database spans.
func (h *commandHook) startSpan(ctx context.Context, op, batch int) (context.Context, trace.Span) {
	name := operationNames[op]
	if name == "" {
		name = "redis"
	}
	ctx, span := h.tracer.Start(ctx, name, h.spanStart[op]...)
	if !span.IsRecording() {
		return ctx, span
	}
	if batch > 0 {
		span.SetAttributes(semconv.DBOperationBatchSize(batch))
	}
	if h.caller {
		span.SetAttributes(callerAttrs()...)
	}
	return ctx, span
}

// finish records the duration and ends the span.
func (h *commandHook) finish(ctx context.Context, op int, start time.Time, span trace.Span, err error) {
	class := contract.Classify(err)
	if h.hist != nil && h.hist.Enabled(ctx) {
		h.hist.Record(ctx, time.Since(start).Seconds(), h.options(op, class)...)
	}
	if span == nil {
		return
	}
	if class != contract.NoError && span.IsRecording() {
		span.SetAttributes(semconv.ErrorTypeKey.String(class.String()))
		if prefix := replyPrefix(err); prefix != "" {
			span.SetAttributes(semconv.DBResponseStatusCode(prefix))
		}
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// options returns the record options of one (operation, error class).
func (h *commandHook) options(op int, class contract.ErrorType) []metric.RecordOption {
	p := &h.opts[op][class]
	if o := p.Load(); o != nil {
		return *o
	}
	attrs := h.base[:len(h.base):len(h.base)]
	if name := operationNames[op]; name != "" {
		attrs = append(attrs, semconv.DBOperationName(name))
	}
	if class != contract.NoError {
		attrs = append(attrs, semconv.ErrorTypeKey.String(class.String()))
	}
	o := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
	// Two first uses may race; both build the same options, either wins.
	p.CompareAndSwap(nil, &o)
	return *p.Load()
}

// replyPrefix is the error prefix of a server reply (ERR, WRONGTYPE,
// NOSCRIPT...), db.response.status_code; "" for other errors.
func replyPrefix(err error) string {
	var reply redis.Error
	if !asRedisError(err, &reply) {
		return ""
	}
	prefix, _, _ := strings.Cut(reply.Error(), " ")
	return prefix
}
