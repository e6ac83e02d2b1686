package redisinstr

import (
	"cmp"
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/luascript"
)

// commandHook records one node client's commands and pipelines: the
// db.client.operation.duration histogram, and a CLIENT span each when
// command spans are on. Everything an operation needs is built once: the
// record options per (operation, error.type) on first use, the span start
// options per operation in newCommandHook. A command with metrics only
// costs two clock reads, a map lookup and the histogram update, and
// allocates nothing.
type commandHook struct {
	closed *atomic.Bool
	hist   metric.Float64Histogram // nil without command metrics
	tracer trace.Tracer            // nil without command spans
	query  queryMode               // db.query.text on spans
	caller bool                    // code.* on spans

	// base: db.system.name, db.namespace, server.address, server.port.
	base      []attribute.KeyValue
	opts      [numOps]atomic.Pointer[optRow]
	spanStart [numOps][]trace.SpanStartOption
}

// optRow holds one operation's record options per dbError index.
type optRow [numDBErrors]atomic.Pointer[[]metric.RecordOption]

// numDBErrors counts the error.type values of the db.* instruments: the
// classes, then the reply codes.
const numDBErrors = int(contract.NumErrorTypes) + int(contract.NumReplies)

// dbError indexes the error.type of a (class, reply), which is the reply's
// code when there is one.
func dbError(class contract.ErrorType, reply contract.Reply) int {
	if reply != contract.NoReply {
		return int(contract.NumErrorTypes) + int(reply)
	}
	return int(class)
}

var _ redis.Hook = (*commandHook)(nil)

func newCommandHook(i *Instrumentation, c *redis.Client) *commandHook {
	o := c.Options()
	// The database index the client selects; a SELECT sent by hand would
	// make it wrong, which the conventions accept (the index the connection
	// was established with).
	h := &commandHook{
		closed: &i.closed,
		hist:   i.inst.commandDuration,
		base:   append([]attribute.KeyValue{semconv.DBSystemNameRedis, semconv.DBNamespace(strconv.Itoa(o.DB))}, serverAttrs(o.Addr)...),
	}
	if i.cfg.commandSpans {
		h.tracer = i.tracer
		h.query, h.caller = i.cfg.queryText, i.cfg.callerInfo
		for op := range numOps {
			h.spanStart[op] = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(h.opAttrs(op)...)}
		}
	}
	return h
}

func (h *commandHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *commandHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		// The prober's closed-client check is not the application's command.
		if h.closed.Load() || ctx == closedCheck || isIdentityCommand(cmd) {
			return next(ctx, cmd)
		}
		op := operationOf(cmd)
		ctx, span := h.startSpan(ctx, op, 0, []redis.Cmder{cmd})
		start := time.Now()
		err := next(ctx, cmd)
		h.finish(ctx, op, start, span, err)
		return err
	}
}

func (h *commandHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.closed.Load() || len(cmds) > 0 && isIdentityCommand(cmds[0]) {
			return next(ctx, cmds)
		}
		op, size := pipelineOperation(cmds)
		ctx, span := h.startSpan(ctx, op, size, cmds)
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

// startSpan starts the CLIENT span of one command or pipeline, if command
// spans are on and op is not a handshake command, named after its
// db.operation.name (or "redis", the db.system.name, when unknown) as the
// conventions name database spans; an EVALSHA of a script the executor
// named is "EVALSHA <script>", with db.stored_procedure.name.
func (h *commandHook) startSpan(ctx context.Context, op, batch int, cmds []redis.Cmder) (context.Context, trace.Span) {
	if h.tracer == nil || handshake[op] {
		return ctx, nil
	}
	name, script := cmp.Or(operationNames[op], "redis"), ""
	if op == opEvalSha {
		if script = scriptOf(cmds[0]); script != "" {
			name += " " + script
		}
	}
	ctx, span := h.tracer.Start(ctx, name, h.spanStart[op]...)
	if !span.IsRecording() {
		return ctx, span
	}
	if script != "" {
		span.SetAttributes(semconv.DBStoredProcedureName(script))
	}
	if batch > 1 { // the conventions: a batch is two operations or more
		span.SetAttributes(semconv.DBOperationBatchSize(batch))
	}
	if h.caller {
		span.SetAttributes(callerAttrs()...)
	}
	if h.query != queryOff {
		span.SetAttributes(semconv.DBQueryText(h.query.text(cmds)))
	}
	return ctx, span
}

// scriptOf is the name the executor gave the script an EVALSHA runs, "" if
// it named none.
func scriptOf(cmd redis.Cmder) string {
	args := cmd.Args()
	if len(args) < 2 {
		return ""
	}
	sha, _ := args[1].(string)
	return luascript.Name(sha)
}

// finish records the duration and ends the span.
func (h *commandHook) finish(ctx context.Context, op int, start time.Time, span trace.Span, err error) {
	class, reply := contract.ClassifyReply(err)
	if h.hist != nil && h.hist.Enabled(ctx) {
		h.hist.Record(ctx, time.Since(start).Seconds(), h.options(op, class, reply)...)
	}
	if span == nil {
		return
	}
	if class != contract.NoError && span.IsRecording() {
		span.SetAttributes(errorAttrs(class, reply)...)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// errorAttrs are error.type and, for a reply in the table,
// db.response.status_code.
func errorAttrs(class contract.ErrorType, reply contract.Reply) []attribute.KeyValue {
	attrs := []attribute.KeyValue{semconv.ErrorTypeKey.String(contract.DBErrorType(class, reply))}
	if reply > contract.ReplyOther {
		attrs = append(attrs, semconv.DBResponseStatusCode(reply.String()))
	}
	return attrs
}

// options returns the record options of one (operation, error.type).
func (h *commandHook) options(op int, class contract.ErrorType, reply contract.Reply) []metric.RecordOption {
	row := h.opts[op].Load()
	if row == nil {
		h.opts[op].CompareAndSwap(nil, new(optRow))
		row = h.opts[op].Load()
	}
	p := &row[dbError(class, reply)]
	if o := p.Load(); o != nil {
		return *o
	}
	attrs := h.opAttrs(op)
	if class != contract.NoError {
		attrs = append(attrs, errorAttrs(class, reply)...)
	}
	o := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
	// Two first uses may race; both build the same options, either wins.
	p.CompareAndSwap(nil, &o)
	return *p.Load()
}

// opAttrs are base and op's db.operation.name, in a slice of their own.
func (h *commandHook) opAttrs(op int) []attribute.KeyValue {
	attrs := h.base[:len(h.base):len(h.base)]
	if name := operationNames[op]; name != "" {
		attrs = append(attrs, semconv.DBOperationName(name))
	}
	return attrs
}
