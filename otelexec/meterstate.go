package otelexec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/statefulroute/sfotel/internal/attach"
	"github.com/statefulroute/sfotel/internal/contract"
)

// The executor's counts live beside the MeterProvider, not in the executor:
// every executor on one MeterProvider adds to the same atomics, and one
// callback reports them. So the counters are monotonic and additive for the
// life of the MeterProvider, whatever executors are created or closed: the
// SDK would sum two executors' callbacks, and a closed executor's counts
// would drop out of the sum, which every rate() reads as a counter reset.
//
// Counting in atomics rather than in synchronous counters keeps the metrics
// path at one histogram Record: an atomic add costs a few nanoseconds where
// a counter's Add costs as much as the Record (docs/benchmarks.md).
var meterStates attach.Table[meterState]

// meterState is what the executors on one MeterProvider share.
type meterState struct {
	duration metric.Float64Histogram

	plain    [contract.NumOps]*opCounts // operations recorded without service attributes
	services *serviceTable

	script      scriptCounters
	stateHits   atomic.Uint64
	stateMisses atomic.Uint64
	stateCache  atomic.Bool // some executor on this MeterProvider has a state cache

	// skipped counts the stored values operations passed over, by kind
	// (stored.go).
	skipped [contract.NumSkipKinds]atomic.Int64

	// The routing signals (routing.go): decisions by outcome and moves by
	// operation counted here, the pods seen by each decision recorded on
	// the synchronous instruments.
	decisions [contract.NumOutcomes]atomic.Int64
	moves     [contract.NumMovers]atomic.Int64
	pods      metric.Int64Gauge
	podAge    metric.Float64Histogram
	podSpread metric.Float64Gauge

	limit int // the cardinality limit the budget was computed for; <= 0 unlimited

	registration metric.Registration
}

// sharedMeterState returns the state of mp, creating it and its
// instruments with the first executor. limit is the MeterProvider's
// cardinality limit as the executor was told it; executors on one provider
// must agree on it.
func sharedMeterState(mp metric.MeterProvider, limit int) (*meterState, error) {
	ms, err := meterStates.Get(mp, func() (*meterState, error) { return newMeterState(mp, limit) })
	if err != nil {
		return nil, err
	}
	if ms.limit != limit {
		return nil, fmt.Errorf("otelexec: WithCardinalityLimit(%d): another executor on this MeterProvider was given %d; the limit is the MeterProvider's, give every executor the same", limit, ms.limit)
	}
	return ms, nil
}

func newMeterState(mp metric.MeterProvider, limit int) (*meterState, error) {
	m := mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	ms := &meterState{limit: limit}
	var err error
	if ms.duration, err = contract.OperationDuration.New(m); err != nil {
		return nil, err
	}
	if ms.podAge, err = contract.PodHeartbeatAge.New(m); err != nil {
		return nil, err
	}
	if ms.pods, err = contract.Pods.New(m); err != nil {
		return nil, err
	}
	if ms.podSpread, err = contract.PodLoadSpread.New(m); err != nil {
		return nil, err
	}
	for id := range contract.NumOps {
		ms.plain[id] = newOpCounts(id, nil)
	}
	ms.services = newServiceTable(limit)

	var errs []error
	newCounter := func(d contract.Int64Counter) metric.Int64ObservableCounter {
		c, err := d.New(m)
		errs = append(errs, err)
		return c
	}
	ops := newCounter(contract.OperationsCounter)
	failures := newCounter(contract.ErrorsCounter)
	hits := newCounter(contract.ScriptCacheHits)
	misses := newCounter(contract.ScriptCacheMisses)
	reloads := newCounter(contract.ScriptCacheReloads)
	stateHits := newCounter(contract.StateCacheHits)
	stateMisses := newCounter(contract.StateCacheMisses)
	skipped := newCounter(contract.StoredValuesSkipped)
	decisions := newCounter(contract.RoutingDecisions)
	moves := newCounter(contract.LinksMoved)
	ratio, err := contract.CacheHitRatio.New(m)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	scriptCache := metric.WithAttributeSet(attribute.NewSet(attribute.String(contract.AttrCacheType, contract.CacheScript)))
	stateCache := metric.WithAttributeSet(attribute.NewSet(attribute.String(contract.AttrCacheType, contract.CacheState)))
	var skipKinds [contract.NumSkipKinds]metric.ObserveOption
	for k := range contract.NumSkipKinds {
		skipKinds[k] = metric.WithAttributeSet(attribute.NewSet(attribute.String(contract.AttrKind, k.String())))
	}
	var outcomes [contract.NumOutcomes]metric.ObserveOption
	for k := range contract.NumOutcomes {
		outcomes[k] = metric.WithAttributeSet(attribute.NewSet(attribute.String(contract.AttrOutcome, k.String())))
	}
	var movers [contract.NumMovers]metric.ObserveOption
	for k := range contract.NumMovers {
		movers[k] = metric.WithAttributeSet(attribute.NewSet(attribute.String(contract.AttrOperation, k.String())))
	}
	ms.registration, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, c := range ms.plain {
			c.observe(o, ops, failures)
		}
		ms.services.observe(o, ops, failures)

		s := ms.script.snapshot()
		o.ObserveInt64(hits, int64(s.Hits))
		o.ObserveInt64(misses, int64(s.Misses))
		o.ObserveInt64(reloads, int64(s.Reloads))
		if s.Hits+s.Misses > 0 {
			o.ObserveFloat64(ratio, s.HitRatio(), scriptCache)
		}
		if ms.stateCache.Load() {
			h, m := ms.stateHits.Load(), ms.stateMisses.Load()
			o.ObserveInt64(stateHits, int64(h))
			o.ObserveInt64(stateMisses, int64(m))
			if h+m > 0 {
				o.ObserveFloat64(ratio, float64(h)/float64(h+m), stateCache)
			}
		}
		for k := range ms.skipped {
			if n := ms.skipped[k].Load(); n > 0 {
				o.ObserveInt64(skipped, n, skipKinds[k])
			}
		}
		for k := range ms.decisions {
			if n := ms.decisions[k].Load(); n > 0 {
				o.ObserveInt64(decisions, n, outcomes[k])
			}
		}
		for k := range ms.moves {
			if n := ms.moves[k].Load(); n > 0 {
				o.ObserveInt64(moves, n, movers[k])
			}
		}
		return nil
	}, ops, failures, hits, misses, reloads, stateHits, stateMisses, skipped, decisions, moves, ratio)
	if err != nil {
		return nil, err
	}
	return ms, nil
}

// opCounts are the counts of one operation under one attribute set (the
// operation alone, or the operation of one (namespace, service) pair), with
// the measurement options built once so that counting allocates nothing.
type opCounts struct {
	ok, failed atomic.Int64
	errs       [contract.NumErrorTypes]atomic.Int64

	okOpts, failedOpts []metric.ObserveOption
	errOpts            [contract.NumErrorTypes][]metric.ObserveOption
	duration           []metric.RecordOption
	// ComputeLinkedPod's counts only: the attributes of the pods it saw
	// (routing.go), the pair's own where the pair has series of its own.
	live, stale, pair []metric.RecordOption

	// For a pair's counts only: errors of a class the errors counter has
	// no series left for are counted in fallback, the _other pair's
	// counts of the same operation (errGranted says which classes have a
	// series of their own).
	fallback   *opCounts
	budget     *seriesBudget
	errGranted [contract.NumErrorTypes]atomic.Int32 // 0 undecided, 1 own series, -1 fallback
}

func newOpCounts(id contract.Op, pair []attribute.KeyValue) *opCounts {
	op := attribute.String(contract.AttrOperation, id.String())
	set := func(kvs ...attribute.KeyValue) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(append(append([]attribute.KeyValue{op}, pair...), kvs...)...))
	}
	c := &opCounts{
		okOpts:     []metric.ObserveOption{set(attribute.String(contract.AttrStatus, contract.StatusOK))},
		failedOpts: []metric.ObserveOption{set(attribute.String(contract.AttrStatus, contract.StatusError))},
		duration:   []metric.RecordOption{set()},
	}
	for et := contract.NoError + 1; et < contract.NumErrorTypes; et++ {
		c.errOpts[et] = []metric.ObserveOption{set(attribute.String(contract.AttrErrorType, et.String()))}
	}
	if id == contract.OpComputeLinkedPod {
		pods := func(state string) []metric.RecordOption {
			kvs := append([]attribute.KeyValue{attribute.String(contract.AttrPodState, state)}, pair...)
			return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
		}
		c.live, c.stale = pods(contract.PodLive), pods(contract.PodStale)
		c.pair = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(pair...))}
	}
	return c
}

// count adds one operation that ended with error class et (NoError for a
// success).
func (c *opCounts) count(et contract.ErrorType) {
	if et == contract.NoError {
		c.ok.Add(1)
		return
	}
	c.failed.Add(1)
	c.errorCounts(et).errs[et].Add(1)
}

// errorCounts returns the counts that record errors of class et: c itself,
// or its fallback when the errors counter has no series left for c.
func (c *opCounts) errorCounts(et contract.ErrorType) *opCounts {
	if c.fallback == nil {
		return c
	}
	switch c.errGranted[et].Load() {
	case 1:
		return c
	case -1:
		return c.fallback
	}
	state := int32(-1)
	if c.budget.take(&c.budget.errs, 1) {
		state = 1
	}
	if !c.errGranted[et].CompareAndSwap(0, state) {
		c.budget.give(&c.budget.errs, 1, state == 1) // another caller decided first
	}
	if c.errGranted[et].Load() == 1 {
		return c
	}
	return c.fallback
}

// observe reports the counts. A count still zero has no series, as a
// synchronous counter would have none before its first Add.
func (c *opCounts) observe(o metric.Observer, ops, failures metric.Int64Observable) {
	if n := c.ok.Load(); n > 0 {
		o.ObserveInt64(ops, n, c.okOpts...)
	}
	if n := c.failed.Load(); n > 0 {
		o.ObserveInt64(ops, n, c.failedOpts...)
	}
	for et := range c.errs {
		if n := c.errs[et].Load(); n > 0 {
			o.ObserveInt64(failures, n, c.errOpts[et]...)
		}
	}
}

// MaxServiceAttributePairs bounds the (namespace, service) pairs that
// WithServiceAttributes records under their own names on one
// MeterProvider, whatever the cardinality limit; it bounds the memory the
// pairs take.
const MaxServiceAttributePairs = 1000

// Attribute values that stand in for real names, keeping cardinality bounded.
const (
	attrOther   = "_other"   // past the pair cap or the series budget
	attrInvalid = "_invalid" // the call was rejected, its names are not trusted
)

// serviceTable holds the counts per (namespace, service) pair for
// WithServiceAttributes. A pair's operation gets series of its own only
// while every instrument has room for them under the cardinality limit;
// otherwise it is recorded under the _other pair, so the SDK's limit is
// never reached and no count loses its labels to the SDK's overflow series.
type serviceTable struct {
	mu      sync.RWMutex
	pairs   map[serviceKey]*serviceEntry
	other   *serviceEntry
	invalid *serviceEntry
	budget  *seriesBudget
}

type serviceKey struct{ namespace, service string }

// serviceEntry builds an operation's counts on its first use, so a pair
// costs memory and series only for the operations it is used with.
type serviceEntry struct {
	attrs []attribute.KeyValue
	ops   [contract.NumOps]atomic.Pointer[opCounts]
}

func newServiceEntry(namespace, service string) *serviceEntry {
	return &serviceEntry{attrs: []attribute.KeyValue{
		attribute.String(contract.AttrNamespace, namespace),
		attribute.String(contract.AttrService, service),
	}}
}

func newServiceTable(limit int) *serviceTable {
	s := &serviceTable{
		pairs:   make(map[serviceKey]*serviceEntry),
		other:   newServiceEntry(attrOther, attrOther),
		invalid: newServiceEntry(attrInvalid, attrInvalid),
	}
	// The stand-in pairs' counts exist from the start: every fallback
	// lands there, so they must never be refused a series.
	for id := range contract.NumOps {
		s.other.ops[id].Store(newOpCounts(id, s.other.attrs))
		s.invalid.ops[id].Store(newOpCounts(id, s.invalid.attrs))
	}
	s.budget = newSeriesBudget(limit)
	return s
}

// counts returns the counts of operation id for a pair.
func (s *serviceTable) counts(id contract.Op, namespace, service string, invalid bool) *opCounts {
	if invalid {
		return s.invalid.ops[id].Load()
	}
	e := s.entry(namespace, service)
	if c := e.ops[id].Load(); c != nil {
		return c
	}
	if e == s.other || !s.budget.takeOp() {
		return s.other.ops[id].Load()
	}
	c := newOpCounts(id, e.attrs)
	c.fallback, c.budget = s.other.ops[id].Load(), s.budget
	if e.ops[id].CompareAndSwap(nil, c) {
		return c
	}
	s.budget.giveOp() // another caller built it first
	return e.ops[id].Load()
}

func (s *serviceTable) entry(namespace, service string) *serviceEntry {
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
	k = serviceKey{strings.Clone(namespace), strings.Clone(service)}
	e = newServiceEntry(k.namespace, k.service)
	s.pairs[k] = e
	return e
}

// observe reports the counts of every pair.
func (s *serviceTable) observe(o metric.Observer, ops, failures metric.Int64Observable) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.pairs {
		e.observe(o, ops, failures)
	}
	s.other.observe(o, ops, failures)
	s.invalid.observe(o, ops, failures)
}

func (e *serviceEntry) observe(o metric.Observer, ops, failures metric.Int64Observable) {
	for id := range e.ops {
		if c := e.ops[id].Load(); c != nil {
			c.observe(o, ops, failures)
		}
	}
}

// seriesBudget counts the series each of the executor's instruments may
// still add for (namespace, service) pairs before it would reach the
// cardinality limit. The SDK keeps limit-1 attribute sets per instrument
// and folds the rest into one overflow series; the budget reserves, out of
// those, every series the operations have without service attributes and
// those of the _other and _invalid pairs, which are never refused.
type seriesBudget struct {
	unlimited bool
	// Series left: a pair's operation takes one histogram series and two
	// operation-counter series (ok, error) at once; each error class it
	// fails with takes one error-counter series.
	ops, errs atomic.Int64
}

func newSeriesBudget(limit int) *seriesBudget {
	b := &seriesBudget{unlimited: limit <= 0}
	const tables = 3 // without service attributes, _other, _invalid
	classes := int64(contract.NumErrorTypes - 1)
	n := int64(contract.NumOps)
	// The histogram needs half what the operations counter needs, so the
	// operations counter's budget bounds both.
	b.ops.Store(max(0, (int64(limit)-1-tables*n*2)/2))
	b.errs.Store(max(0, int64(limit)-1-tables*n*classes))
	return b
}

// takeOp takes the series of one pair's operation.
func (b *seriesBudget) takeOp() bool { return b.take(&b.ops, 1) }

func (b *seriesBudget) giveOp() { b.give(&b.ops, 1, true) }

func (b *seriesBudget) take(left *atomic.Int64, n int64) bool {
	if b.unlimited {
		return true
	}
	for {
		v := left.Load()
		if v < n {
			return false
		}
		if left.CompareAndSwap(v, v-n) {
			return true
		}
	}
}

func (b *seriesBudget) give(left *atomic.Int64, n int64, taken bool) {
	if taken && !b.unlimited {
		left.Add(n)
	}
}

// defaultCardinalityLimit is the SDK's: 2000 series per instrument, or
// OTEL_GO_X_CARDINALITY_LIMIT, which the SDK reads too.
func defaultCardinalityLimit() int {
	const sdkDefault = 2000
	v := strings.TrimSpace(os.Getenv("OTEL_GO_X_CARDINALITY_LIMIT"))
	if v == "" {
		return sdkDefault
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return sdkDefault
	}
	return max(n, 0)
}
