package otelexec

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/statefulroute/sfotel/internal/contract"
)

// opID indexes the per-operation telemetry tables. The order is that of
// contract.Operations (a test checks it).
type opID uint8

const (
	opSetServiceState opID = iota
	opGetServiceState
	opSetWorkloadState
	opGetWorkloadState
	opGetWorkloadStateBatch
	opSetLinkedPod
	opTrySetLinkedPod
	opSetLinkedPodIfAbsent
	opGetLinkedPod
	opGetLinkedPodIfPersist
	opBatchGetLinkedPod
	opRemoveLinkedPod
	opRemoveLinkedPodWithID
	opGetLinkService
	opComputeLinkedPod
	numOps
)

func (id opID) String() string { return contract.Operations[id] }

// MaxServiceAttributePairs bounds the (namespace, service) pairs that
// WithServiceAttributes records under their own names; later pairs are
// recorded as "_other".
const MaxServiceAttributePairs = 1000

// Attribute values that stand in for real names, keeping cardinality bounded.
const (
	attrOther   = "_other"   // past MaxServiceAttributePairs
	attrInvalid = "_invalid" // the call was rejected, its names are not trusted
)

// durationBuckets suit Redis round trips: 100 µs to 5 s. The SDK default
// (0 … 10000) assumes milliseconds and would put every call in one bucket.
var durationBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
}

// newCacheHitRatio returns the hit-ratio gauge the script and state caches'
// callbacks share, each adding its cache_type series. Both must ask for it
// with the same name, unit and description, or the SDK makes two
// instruments that conflict.
func newCacheHitRatio(m metric.Meter) (metric.Float64ObservableGauge, error) {
	return m.Float64ObservableGauge(contract.MetricCacheHitRatio, metric.WithUnit(contract.UnitCacheHitRatio),
		metric.WithDescription("Cache hits / (hits + misses), by cache type."))
}

// opOptions are the counts and measurement options of one operation, built
// once so that recording allocates nothing.
//
// The operation and error counts are atomics that the metrics callback
// reports as observable counters: an atomic add costs a few nanoseconds
// where a synchronous counter's Add costs about as much as the histogram's
// Record (the SDK normalizes the attribute set and looks up the series on
// every call). Only the duration histogram is recorded on the hot path.
type opOptions struct {
	count    [2]atomic.Int64 // operations{operation,status}: [0] ok, [1] error
	errCount [contract.NumErrorTypes]atomic.Int64

	status   [2][]metric.ObserveOption
	errors   [contract.NumErrorTypes][]metric.ObserveOption
	duration []metric.RecordOption
}

func newOpOptions(id opID, extra ...attribute.KeyValue) *opOptions {
	op := attribute.String(contract.AttrOperation, id.String())
	set := func(kvs ...attribute.KeyValue) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(append(append([]attribute.KeyValue{op}, extra...), kvs...)...))
	}
	o := &opOptions{duration: []metric.RecordOption{set()}}
	o.status[0] = []metric.ObserveOption{set(attribute.String(contract.AttrStatus, contract.StatusOK))}
	o.status[1] = []metric.ObserveOption{set(attribute.String(contract.AttrStatus, contract.StatusError))}
	for et := range contract.NumErrorTypes {
		o.errors[et] = []metric.ObserveOption{set(attribute.String(contract.AttrErrorType, et.String()))}
	}
	return o
}

// observe reports the operation's counts. A count still zero has no series,
// as a synchronous counter would have none before its first Add.
func (o *opOptions) observe(obs metric.Observer, ops, errs metric.Int64Observable) {
	for i := range o.count {
		if n := o.count[i].Load(); n > 0 {
			obs.ObserveInt64(ops, n, o.status[i]...)
		}
	}
	for et := range o.errCount {
		if n := o.errCount[et].Load(); n > 0 {
			obs.ObserveInt64(errs, n, o.errors[et]...)
		}
	}
}

// telemetry holds the executor's tracer, instruments and every prebuilt
// attribute set and option slice.
type telemetry struct {
	tracer  trace.Tracer // nil when the TracerProvider is the noop one
	metrics bool         // false when the MeterProvider is the noop one

	duration metric.Float64Histogram

	spanStart []trace.SpanStartOption
	spanOK    [numOps][]attribute.KeyValue                         // span attributes of a success
	spanError [numOps][contract.NumErrorTypes][]attribute.KeyValue // the same plus error.type
	byOp      [numOps]*opOptions
	services  *serviceOptions // nil unless WithServiceAttributes

	registration metric.Registration
}

func newTelemetry(c *config, rdb redis.UniversalClient, stats *scriptCounters) (*telemetry, error) {
	t := &telemetry{}
	if _, noop := c.tracerProvider.(tracenoop.TracerProvider); !noop {
		t.tracer = c.tracerProvider.Tracer(ScopeName, trace.WithInstrumentationVersion(Version))
	}
	if _, noop := c.meterProvider.(metricnoop.MeterProvider); !noop {
		t.metrics = true
	}

	server := serverAttributes(rdb)
	t.spanStart = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
	for id := range numOps {
		ok := append([]attribute.KeyValue{
			semconv.DBSystemNameRedis,
			semconv.DBOperationName(id.String()),
		}, server...)
		t.spanOK[id] = ok
		for et := range contract.NumErrorTypes {
			t.spanError[id][et] = append(slices.Clip(ok), semconv.ErrorTypeKey.String(et.String()))
		}
		t.byOp[id] = newOpOptions(id)
	}
	if c.serviceAttributes {
		t.services = &serviceOptions{
			pairs:   make(map[serviceKey]*serviceEntry),
			other:   &serviceEntry{namespace: attrOther, service: attrOther},
			invalid: &serviceEntry{namespace: attrInvalid, service: attrInvalid},
		}
	}
	if !t.metrics {
		return t, nil
	}
	return t, t.newInstruments(c.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version)), stats)
}

func (t *telemetry) newInstruments(m metric.Meter, stats *scriptCounters) error {
	opsCounter, err := m.Int64ObservableCounter(contract.MetricOperations,
		metric.WithUnit(contract.UnitOperations),
		metric.WithDescription("Executor operations, by operation and status (ok or error)."))
	if err != nil {
		return err
	}
	errsCounter, err := m.Int64ObservableCounter(contract.MetricErrors,
		metric.WithUnit(contract.UnitErrors),
		metric.WithDescription("Failed executor operations, by operation and error type."))
	if err != nil {
		return err
	}
	if t.duration, err = m.Float64Histogram(contract.MetricOperationDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of executor operations, including validation and every Redis round trip."),
		metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return err
	}
	hits, err := m.Int64ObservableCounter(contract.MetricScriptCacheHits, metric.WithUnit("{call}"),
		metric.WithDescription("EVALSHA replies other than NOSCRIPT."))
	if err != nil {
		return err
	}
	misses, err := m.Int64ObservableCounter(contract.MetricScriptCacheMisses, metric.WithUnit("{call}"),
		metric.WithDescription("EVALSHA replies NOSCRIPT: the server had lost the script."))
	if err != nil {
		return err
	}
	reloads, err := m.Int64ObservableCounter(contract.MetricScriptCacheReloads, metric.WithUnit("{call}"),
		metric.WithDescription("SCRIPT LOADs after a NOSCRIPT."))
	if err != nil {
		return err
	}
	ratio, err := newCacheHitRatio(m)
	if err != nil {
		return err
	}
	scriptCache := metric.WithAttributeSet(attribute.NewSet(attribute.String(contract.AttrCacheType, contract.CacheScript)))
	t.registration, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, opts := range t.byOp {
			opts.observe(o, opsCounter, errsCounter)
		}
		if t.services != nil {
			t.services.observe(o, opsCounter, errsCounter)
		}
		s := stats.snapshot()
		o.ObserveInt64(hits, int64(s.Hits))
		o.ObserveInt64(misses, int64(s.Misses))
		o.ObserveInt64(reloads, int64(s.Reloads))
		if s.Hits+s.Misses > 0 {
			o.ObserveFloat64(ratio, s.HitRatio(), scriptCache)
		}
		return nil
	}, opsCounter, errsCounter, hits, misses, reloads, ratio)
	return err
}

// serverAttributes are server.address and server.port of a single-node
// client. A ClusterClient or Ring talks to many nodes and a failover client
// to whichever is master, so there they are left out: the redisotel command
// spans below the executor's span carry the node actually used.
func serverAttributes(rdb redis.UniversalClient) []attribute.KeyValue {
	c, ok := rdb.(*redis.Client)
	if !ok {
		return nil
	}
	o := c.Options()
	if o.Addr == "" || o.Addr == "FailoverClient" {
		return nil
	}
	if o.Network == "unix" {
		return []attribute.KeyValue{semconv.ServerAddress(o.Addr)}
	}
	host, port, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return []attribute.KeyValue{semconv.ServerAddress(o.Addr)}
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return []attribute.KeyValue{semconv.ServerAddress(host)}
	}
	return []attribute.KeyValue{semconv.ServerAddress(host), semconv.ServerPort(p)}
}

// monoEpoch lets an operation read only the monotonic clock: time.Since of
// a time.Time that carries a monotonic reading reads that clock alone,
// while time.Now also reads the wall clock, which durations do not need.
var monoEpoch = time.Now()

// op is one running operation. It is a value, so starting and ending an
// operation allocates nothing of its own.
type op struct {
	ctx       context.Context
	tel       *telemetry
	span      trace.Span    // nil when tracing is off
	start     time.Duration // since monoEpoch; a monotonic clock read only
	namespace string        // only with WithServiceAttributes
	service   string
	id        opID
}

// start begins an operation: a span when tracing is on, a timer when metrics
// are on. End it with defer op.end(&err).
func (t *telemetry) start(ctx context.Context, id opID) (context.Context, op) {
	o := op{tel: t, id: id}
	if t.tracer != nil {
		// The attributes are set once, at end, together with error.type,
		// rather than passed as a start option: the SDK copies start
		// options into a fresh slice and grows the span's slice again for
		// error.type, two allocations per span. The price is that samplers
		// and OnStart span processors do not see them.
		ctx, o.span = t.tracer.Start(ctx, id.String(), t.spanStart...)
	}
	if t.metrics {
		o.start = time.Since(monoEpoch)
	}
	o.ctx = ctx
	return ctx, o
}

// startFor is start for an operation on one namespace and service, which
// WithServiceAttributes records as metric attributes.
func (t *telemetry) startFor(ctx context.Context, id opID, namespace, service string) (context.Context, op) {
	ctx, o := t.start(ctx, id)
	if t.services != nil {
		o.namespace, o.service = namespace, service
	}
	return ctx, o
}

// end records the operation's outcome: *errp nil is success.
func (o op) end(errp *error) {
	t := o.tel
	err := *errp
	et := contract.Classify(err)
	if t.metrics {
		opts := t.byOp[o.id]
		if t.services != nil {
			opts = t.services.options(o.id, o.namespace, o.service, err != nil && et == contract.ErrorInvalidArgument)
		}
		t.duration.Record(o.ctx, (time.Since(monoEpoch) - o.start).Seconds(), opts.duration...)
		if err == nil {
			opts.count[0].Add(1)
		} else {
			opts.count[1].Add(1)
			opts.errCount[et].Add(1)
		}
	}
	if o.span != nil && o.span.IsRecording() {
		if err == nil {
			o.span.SetAttributes(t.spanOK[o.id]...)
		} else {
			o.span.SetAttributes(t.spanError[o.id][et]...)
			o.span.SetStatus(codes.Error, err.Error())
		}
	}
	if o.span != nil {
		o.span.End()
	}
}

func (t *telemetry) close() error {
	if t.registration == nil {
		return nil
	}
	return t.registration.Unregister()
}

// serviceOptions caches option sets per (namespace, service) for
// WithServiceAttributes, at most MaxServiceAttributePairs of them. After
// warm-up, recording is a read-locked map lookup and allocates nothing.
type serviceOptions struct {
	mu      sync.RWMutex
	pairs   map[serviceKey]*serviceEntry
	other   *serviceEntry
	invalid *serviceEntry
}

type serviceKey struct{ namespace, service string }

// serviceEntry builds an operation's options on its first use, so a pair
// costs memory only for the operations it is used with.
type serviceEntry struct {
	namespace, service string
	ops                [numOps]atomic.Pointer[opOptions]
}

func (s *serviceOptions) options(id opID, namespace, service string, invalid bool) *opOptions {
	var e *serviceEntry
	if invalid {
		e = s.invalid
	} else {
		e = s.entry(namespace, service)
	}
	if o := e.ops[id].Load(); o != nil {
		return o
	}
	o := newOpOptions(id,
		attribute.String(contract.AttrNamespace, e.namespace),
		attribute.String(contract.AttrService, e.service))
	if e.ops[id].CompareAndSwap(nil, o) {
		return o
	}
	return e.ops[id].Load()
}

// observe reports the counts of every (namespace, service) pair.
func (s *serviceOptions) observe(obs metric.Observer, ops, errs metric.Int64Observable) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.pairs {
		e.observe(obs, ops, errs)
	}
	s.other.observe(obs, ops, errs)
	s.invalid.observe(obs, ops, errs)
}

func (e *serviceEntry) observe(obs metric.Observer, ops, errs metric.Int64Observable) {
	for id := range e.ops {
		if o := e.ops[id].Load(); o != nil {
			o.observe(obs, ops, errs)
		}
	}
}

func (s *serviceOptions) entry(namespace, service string) *serviceEntry {
	k := serviceKey{namespace, service}
	s.mu.RLock()
	e, ok := s.pairs[k]
	full := len(s.pairs) >= MaxServiceAttributePairs
	s.mu.RUnlock()
	if ok {
		return e
	}
	if full {
		return s.other
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.pairs[k]; ok {
		return e
	}
	if len(s.pairs) >= MaxServiceAttributePairs {
		return s.other
	}
	// Clone: the caller's strings may share memory with larger buffers.
	e = &serviceEntry{namespace: strings.Clone(namespace), service: strings.Clone(service)}
	s.pairs[serviceKey{e.namespace, e.service}] = e
	return e
}
