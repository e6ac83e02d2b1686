package otelexec

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"

	"github.com/statefulroute/sfotel/internal/contract"
)

// Executor runs the stateful operations over Redis, each one traced and
// measured. It is safe for concurrent use.
type Executor struct {
	rdb         redis.UniversalClient
	send        *sender
	tel         *telemetry
	scripts     scripts
	scriptStats scriptCounters
	logger      *slog.Logger
	states      *stateCache // nil unless WithStateCache
	links       *linkCache  // nil unless WithLinkCache
	skips       skipLog
	closed      atomic.Bool
	ratios      metric.Registration // nil without metrics
}

// New returns an Executor over rdb, a *redis.Client, *redis.ClusterClient
// or *redis.Ring, which it does not own. Like redis.NewClient or sql.Open
// it does no I/O, so it cannot hang: LoadScripts checks Redis and loads the
// Lua scripts within a deadline; otherwise each is loaded by its first use.
func New(rdb redis.UniversalClient, opts ...Option) (*Executor, error) {
	cl, ok := clientOf(rdb)
	if !ok {
		return nil, &ArgumentError{Field: "rdb", Reason: "nil"}
	}
	c := newConfig(opts)
	if err := errors.Join(c.invalid...); err != nil {
		return nil, err
	}
	e := &Executor{rdb: rdb, scripts: loadScripts(), logger: c.logger}
	tel, err := newTelemetry(&c, rdb, &e.scriptStats)
	if err != nil {
		return nil, err
	}
	e.tel = tel
	e.send = newSender(rdb, cl, c.autoPipelining, c.commandSpans)
	e.states = newStateCache(&c, tel.meters, e.send)
	if e.links, err = newLinkCache(&c, rdb, tel.meters); err != nil {
		return nil, err
	}
	if ms := tel.meters; ms != nil {
		if e.ratios, err = c.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version)).RegisterCallback(e.observeRatios, ms.ratio); err != nil {
			e.links.close()
			return nil, err
		}
	}
	if !cl.ctxTimeout { // then go-redis bounds a call by its read timeout only
		c.logger.Warn("otelexec: the go-redis client has ContextTimeoutEnabled false, so calls ignore context deadlines and wait for the client's read timeout; set ContextTimeoutEnabled: true")
	}
	return e, nil
}

// client is what the executor reads of its go-redis client, whichever of
// the three types it is; another UniversalClient is sent to directly.
type client struct {
	ctxTimeout bool // ContextTimeoutEnabled
	retries    int  // how often go-redis resends: MaxRedirects on a cluster, MaxRetries elsewhere
	db         int  // the database selected; a cluster has 0 only
	cluster    bool
	pipeliner  func(*redis.AutoPipelineOptions) (*redis.AutoPipeliner, error) // nil: none
}

// clientOf reads rdb; ok is false for a nil client, including a typed nil
// in the interface, which would panic on first use.
func clientOf(rdb redis.UniversalClient) (c client, ok bool) {
	switch r := rdb.(type) {
	case nil:
	case *redis.Client:
		if ok = r != nil; ok {
			o := r.Options()
			c = client{ctxTimeout: o.ContextTimeoutEnabled, retries: o.MaxRetries, db: o.DB, pipeliner: r.AsyncAutoPipelineWithOptions}
		}
	case *redis.ClusterClient:
		if ok = r != nil; ok {
			o := r.Options()
			c = client{ctxTimeout: o.ContextTimeoutEnabled, retries: o.MaxRedirects, cluster: true, pipeliner: r.AsyncAutoPipelineWithOptions}
		}
	case *redis.Ring:
		if ok = r != nil; ok {
			o := r.Options()
			c = client{ctxTimeout: o.ContextTimeoutEnabled, retries: o.MaxRetries, db: o.DB, pipeliner: r.AsyncAutoPipelineWithOptions}
		}
	default:
		c, ok = client{ctxTimeout: true}, true
	}
	return c, ok
}

// LoadScripts loads the executor's Lua scripts into Redis (every shard of a
// Ring, every master of a Cluster) and checks their SHA1s, as an operation
// bounded by ctx: at start-up, to fail fast on an unreachable or refusing
// Redis. Without it each script is loaded by its first use.
func (e *Executor) LoadScripts(ctx context.Context) (err error) {
	ctx, op := e.tel.start(ctx, contract.OpLoadScripts)
	defer op.end(&err)
	if err = e.check(); err != nil {
		return err
	}
	return preload(ctx, e.send, e.scripts.all())
}

// Close ends the executor: every later call returns ErrClosed (and is
// counted), the caches' memory and connection are released and their hit
// ratios no longer reported; the counts stay in the MeterProvider's
// counters. Close does not close the Redis client. It is idempotent.
func (e *Executor) Close() error {
	if !e.closed.Swap(true) {
		e.links.close()
		if e.ratios != nil {
			_ = e.ratios.Unregister()
		}
	}
	e.states.clear()
	return nil
}

// check returns ErrClosed after Close, else the first of an operation's
// argument errors, if any.
func (e *Executor) check(invalid ...error) error {
	if e.closed.Load() {
		return ErrClosed
	}
	return cmp.Or(invalid...)
}

// ScriptStats returns the EVALSHA hits, NOSCRIPT misses and script reloads
// of this executor since New.
func (e *Executor) ScriptStats() ScriptStats { return e.scriptStats.snapshot() }
