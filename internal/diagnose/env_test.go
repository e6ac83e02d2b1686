package diagnose

import (
	"context"
	"runtime/debug"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/statefulroute/sfotel/exporters"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/redisinstr"
	"github.com/statefulroute/sfotel/report"
)

// setup is the process and the Redis a run starts with: what an advised
// knob changes.
type setup struct {
	poolSize   int           // go-redis PoolSize; 0: its default
	pods       int           // listed per service; 0: livePods
	stateCache time.Duration // otelexec.WithStateCache; 0: none
	gogc       int           // GOGC during the window; 0: unchanged
	workers    int           // 0: defaultWorkers
	direct     bool          // otelexec.WithAutoPipelining(false): each command on a connection of its own
}

const (
	defaultWorkers = 4
	workerPace     = time.Millisecond
	users          = 2000
)

// env is one run's process and Redis. side is an uninstrumented client of
// the same server, for the injections.
type env struct {
	t     *testing.T
	srv   *redistest.Server
	proxy *redistest.Proxy // between the executor and Redis, when asked for
	side  *redis.Client
	work  *workload
}

// timing shapes a run: the workload warms up, then the report's window
// covers the injection.
type timing struct {
	warm, window time.Duration
}

// run starts a fresh redis-server and process, runs the workload, injects
// during the window and returns the report of the window; with a
// Prometheus, also the fleet report of the same window from its scrapes.
func run(t *testing.T, tm timing, su setup, viaProxy bool, inject func(ctx context.Context, e *env), pm *prom) (own, fleet *report.Report) {
	t.Helper()
	e := &env{t: t, srv: redistest.StartServer(t)}
	addr := e.srv.Addr
	if viaProxy {
		e.proxy = redistest.StartProxy(t, addr)
		addr = e.proxy.Addr
	}
	e.side = redis.NewClient(&redis.Options{Addr: e.srv.Addr, MaxRetries: -1})
	defer e.side.Close()

	coll, err := report.NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	readers := []sdkmetric.Option{sdkmetric.WithReader(coll.Reader())}
	var target string
	if pm != nil {
		// The exporter as an application has it: with the Go collector,
		// whose runtime series the fleet report diagnoses from.
		exp, err := exporters.NewPrometheus(exporters.WithProcessCollector(false))
		if err != nil {
			t.Fatal(err)
		}
		readers = append(readers, sdkmetric.WithReader(exp))
		target = pm.scrape(t, exp)
	}
	mp := sdkmetric.NewMeterProvider(readers...)
	defer mp.Shutdown(context.Background())
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: su.poolSize, ContextTimeoutEnabled: true})
	defer rdb.Close()
	inst, err := redisinstr.Instrument(rdb, redisinstr.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	opts := []otelexec.Option{otelexec.WithMeterProvider(mp), otelexec.WithAutoPipelining(!su.direct), otelexec.WithServiceAttributes(true)}
	if su.stateCache > 0 {
		opts = append(opts, otelexec.WithStateCache(su.stateCache))
	}
	ex, err := otelexec.New(rdb, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()

	w := &workload{exec: ex, ns: "diag", pods: max(su.pods, livePods), users: users,
		workers: cmpOr(su.workers, defaultWorkers), pace: workerPace}
	e.work = w
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := w.prepare(ctx); err != nil {
		t.Fatal(err)
	}
	load, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.run(load); close(done) }()
	defer func() { stop(); <-done }()

	time.Sleep(tm.warm)
	prev, err := coll.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if su.gogc > 0 {
		defer debug.SetGCPercent(debug.SetGCPercent(su.gogc))
	}
	window, end := context.WithTimeout(ctx, tm.window)
	defer end()
	injected := make(chan struct{})
	go func() {
		defer close(injected)
		if inject != nil {
			inject(window, e)
		}
	}()
	<-window.Done()
	cur, err := coll.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-injected
	own = report.Delta(prev, cur)
	if pm != nil {
		fleet = pm.report(t, target, own.Window.Start, own.Window.End)
	}
	return own, fleet
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// every runs f every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func()) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			f()
		}
	}
}
