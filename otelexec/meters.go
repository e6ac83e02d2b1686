package otelexec

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/statefulroute/sfotel/internal/contract"
)

// meters are one executor's instruments, the SDK's synchronous ones (so
// counts add up across executors and never go down: docs/design.md, "Counts
// belong to the MeterProvider"), with the attribute sets it records under
// built once, so that recording allocates nothing.
type meters struct {
	duration        metric.Float64Histogram
	ops, errs       metric.Int64Counter
	serviceDuration metric.Float64Histogram // with WithServiceAttributes
	serviceOps      metric.Int64Counter     // with WithServiceAttributes

	scriptHits, scriptMisses, scriptReloads metric.Int64Counter
	stateHits, stateMisses                  metric.Int64Counter
	linkHits, linkMisses, linkEvictions     metric.Int64Counter
	linkInvalidations                       metric.Int64Counter
	skipped, decisions, moves               metric.Int64Counter
	pods                                    metric.Int64Gauge
	podAge                                  metric.Float64Histogram
	podSpread                               metric.Float64Gauge
	ratio                                   metric.Float64ObservableGauge

	plain     [contract.NumOps]opSets
	noService podSets
	pairs     *pairCache // nil without WithServiceAttributes
	skipKinds [contract.NumSkipKinds][]metric.AddOption
	outcomes  [contract.NumOutcomes][]metric.AddOption
	movers    [contract.NumMovers][]metric.AddOption
}

func newMeters(mp metric.MeterProvider, services bool) (*meters, error) {
	m := mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	var errs []error
	counter := func(d contract.Int64Counter) metric.Int64Counter {
		c, err := d.Sync(m)
		errs = append(errs, err)
		return c
	}
	ms := &meters{
		ops: counter(contract.OperationsCounter), errs: counter(contract.ErrorsCounter),
		scriptHits: counter(contract.ScriptCacheHits), scriptMisses: counter(contract.ScriptCacheMisses),
		scriptReloads: counter(contract.ScriptCacheReloads),
		stateHits:     counter(contract.StateCacheHits), stateMisses: counter(contract.StateCacheMisses),
		linkHits: counter(contract.LinkCacheHits), linkMisses: counter(contract.LinkCacheMisses),
		linkEvictions: counter(contract.LinkCacheEvictions), linkInvalidations: counter(contract.LinkCacheInvalidations),
		skipped: counter(contract.StoredValuesSkipped), decisions: counter(contract.RoutingDecisions),
		moves: counter(contract.LinksMoved),
	}
	var more [7]error
	ms.duration, more[0] = contract.OperationDuration.New(m)
	ms.pods, more[1] = contract.Pods.New(m)
	ms.podAge, more[2] = contract.PodHeartbeatAge.New(m)
	ms.podSpread, more[3] = contract.PodLoadSpread.New(m)
	ms.ratio, more[4] = contract.CacheHitRatio.New(m)
	if services {
		ms.serviceDuration, more[5] = contract.ServiceOperationDuration.New(m)
		ms.serviceOps, more[6] = contract.ServiceOperations.Sync(m)
		ms.pairs = newPairCache()
	}
	if err := errors.Join(append(errs, more[:]...)...); err != nil {
		return nil, err
	}
	for id := range contract.NumOps {
		ms.plain[id] = newOpSets(id, nil, true)
	}
	ms.noService = newPodSets(nil)
	for k := range contract.NumSkipKinds {
		ms.skipKinds[k] = addSet(attribute.String(contract.AttrKind, k.String()))
	}
	for k := range contract.NumOutcomes {
		ms.outcomes[k] = addSet(attribute.String(contract.AttrOutcome, k.String()))
	}
	for k := range contract.NumMovers {
		ms.movers[k] = addSet(attribute.String(contract.AttrOperation, k.String()))
	}
	return ms, nil
}

func addSet(kvs ...attribute.KeyValue) []metric.AddOption {
	return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
}

func recordSet(kvs ...attribute.KeyValue) []metric.RecordOption {
	return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
}

// record counts one operation that took seconds and ended with error class
// et (NoError for a success); with service attributes, also under its pair.
func (ms *meters) record(o *op, seconds float64, et contract.ErrorType) {
	s := &ms.plain[o.id]
	ms.duration.Record(o.ctx, seconds, s.duration...)
	ms.ops.Add(o.ctx, 1, s.status(et)...)
	if et != contract.NoError {
		ms.errs.Add(o.ctx, 1, s.errs[et]...)
	}
	if ms.pairs == nil {
		return
	}
	s = ms.pairs.get(o.namespace, o.service, et == contract.ErrorInvalidArgument).op(o.id)
	ms.serviceDuration.Record(o.ctx, seconds, s.duration...)
	ms.serviceOps.Add(o.ctx, 1, s.status(et)...)
}

// opSets are the attribute sets of one operation: alone, or with a pair.
type opSets struct {
	ok, failed []metric.AddOption
	errs       [contract.NumErrorTypes][]metric.AddOption // without a pair only
	duration   []metric.RecordOption
}

func newOpSets(id contract.Op, pair []attribute.KeyValue, withErrors bool) opSets {
	kvs := func(more ...attribute.KeyValue) []attribute.KeyValue {
		return append(append([]attribute.KeyValue{attribute.String(contract.AttrOperation, id.String())}, pair...), more...)
	}
	s := opSets{
		ok:       addSet(kvs(attribute.String(contract.AttrStatus, contract.StatusOK))...),
		failed:   addSet(kvs(attribute.String(contract.AttrStatus, contract.StatusError))...),
		duration: recordSet(kvs()...),
	}
	for et := contract.NoError + 1; withErrors && et < contract.NumErrorTypes; et++ {
		s.errs[et] = addSet(kvs(attribute.String(contract.AttrErrorType, et.String()))...)
	}
	return s
}

func (s *opSets) status(et contract.ErrorType) []metric.AddOption {
	if et == contract.NoError {
		return s.ok
	}
	return s.failed
}

// podSets are the attribute sets of the pods a routing decision saw.
type podSets struct{ live, stale, all []metric.RecordOption }

func newPodSets(pair []attribute.KeyValue) podSets {
	state := func(v string) []metric.RecordOption {
		return recordSet(append([]attribute.KeyValue{attribute.String(contract.AttrPodState, v)}, pair...)...)
	}
	return podSets{live: state(contract.PodLive), stale: state(contract.PodStale), all: recordSet(pair...)}
}

// maxCachedPairs bounds the (namespace, service) pairs whose attribute sets
// an executor keeps; past it a pair's sets are built for the call.
const maxCachedPairs = 1000

// attrInvalid stands in for the names of a rejected call, which are not
// trusted.
const attrInvalid = "_invalid"

// pairCache holds the attribute sets of the pairs an executor has seen.
type pairCache struct {
	mu      sync.RWMutex
	m       map[nameKey]*pairSets
	invalid *pairSets
}

// pairSets builds an operation's sets on its first use, so a pair costs
// memory only for the operations it is used with.
type pairSets struct {
	attrs []attribute.KeyValue
	pods  podSets
	ops   [contract.NumOps]atomic.Pointer[opSets]
}

func newPairCache() *pairCache {
	return &pairCache{m: make(map[nameKey]*pairSets), invalid: newPairSets(attrInvalid, attrInvalid)}
}

func newPairSets(namespace, service string) *pairSets {
	attrs := []attribute.KeyValue{
		attribute.String(contract.AttrNamespace, namespace),
		attribute.String(contract.AttrService, service),
	}
	return &pairSets{attrs: attrs, pods: newPodSets(attrs)}
}

// get returns the sets of a pair; invalid says the call was rejected.
func (c *pairCache) get(namespace, service string, invalid bool) *pairSets {
	if invalid {
		return c.invalid
	}
	k := nameKey{namespace, service}
	c.mu.RLock()
	p, full := c.m[k], len(c.m) >= maxCachedPairs
	c.mu.RUnlock()
	if p != nil {
		return p
	}
	// Clone: the caller's strings may share memory with larger buffers.
	k = nameKey{strings.Clone(namespace), strings.Clone(service)}
	if full {
		return newPairSets(k.namespace, k.name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.m[k]; p != nil {
		return p
	}
	p = newPairSets(k.namespace, k.name)
	if len(c.m) < maxCachedPairs {
		c.m[k] = p
	}
	return p
}

func (p *pairSets) op(id contract.Op) *opSets {
	if s := p.ops[id].Load(); s != nil {
		return s
	}
	s := newOpSets(id, p.attrs, false)
	p.ops[id].CompareAndSwap(nil, &s)
	return p.ops[id].Load()
}

// tally is a count the executor reads back (ScriptStats, the cache hit
// ratio) that, with metrics, is also added to an SDK counter.
type tally struct {
	n    atomic.Uint64
	c    metric.Int64Counter // nil without metrics
	opts []metric.AddOption  // the attributes c counts with
}

func (t *tally) add(ctx context.Context) { t.addN(ctx, 1) }

func (t *tally) addN(ctx context.Context, n uint64) {
	t.n.Add(n)
	if t.c != nil {
		t.c.Add(ctx, int64(n), t.opts...)
	}
}

// Load returns the count.
func (t *tally) Load() uint64 { return t.n.Load() }

// on makes t count on c too, from 0: reported from the start, so that an
// increase() sees the first count.
func (t *tally) on(c metric.Int64Counter) {
	t.c = c
	c.Add(context.Background(), 0)
}

// observeRatios reports the executor's script and state cache hit ratios.
func (e *Executor) observeRatios(_ context.Context, o metric.Observer) error {
	ms := e.tel.meters
	if s := e.scriptStats.snapshot(); s.Hits+s.Misses > 0 {
		o.ObserveFloat64(ms.ratio, s.HitRatio(), cacheScript)
	}
	if sc := e.states; sc != nil {
		if h, m := sc.hits.Load(), sc.misses.Load(); h+m > 0 {
			o.ObserveFloat64(ms.ratio, float64(h)/float64(h+m), cacheState)
		}
	}
	return nil
}

var (
	cacheScript = metric.WithAttributeSet(attribute.NewSet(attribute.String(contract.AttrCacheType, contract.CacheScript)))
	cacheState  = metric.WithAttributeSet(attribute.NewSet(attribute.String(contract.AttrCacheType, contract.CacheState)))
)

// decided counts a routing decision.
func (t *telemetry) decided(ctx context.Context, o RoutingOutcome) {
	if ms := t.meters; ms != nil {
		ms.decisions.Add(ctx, 1, ms.outcomes[o]...)
	}
}

// moved counts a user's link replaced by a link to another pod.
func (t *telemetry) moved(ctx context.Context, by contract.Mover) {
	if ms := t.meters; ms != nil {
		ms.moves.Add(ctx, 1, ms.movers[by]...)
	}
}

// pods records the pods a routing decision saw (c, after the pass over the
// service's states): live and not live pods, the age of the oldest live
// heartbeat, and the live pods' load spread, under the operation's
// (namespace, service) pair with WithServiceAttributes, under no
// attributes otherwise.
func (t *telemetry) pods(o op, c *chooser) {
	ms := t.meters
	if ms == nil {
		return
	}
	counts := &ms.noService
	if ms.pairs != nil {
		counts = &ms.pairs.get(o.namespace, o.service, false).pods
	}
	ms.pods.Record(o.ctx, int64(c.live), counts.live...)
	ms.pods.Record(o.ctx, int64(c.dead), counts.stale...)
	if c.live == 0 {
		return
	}
	age := float64(c.window.nowMs-c.oldestMs) / 1000
	ms.podAge.Record(o.ctx, max(age, 0), counts.all...)
	spread := 1.0 // every live pod at load 0 is an even spread
	if c.loadSum > 0 {
		spread = float64(c.loadMax) / (c.loadSum / float64(c.live))
	}
	ms.podSpread.Record(o.ctx, spread, counts.all...)
}
