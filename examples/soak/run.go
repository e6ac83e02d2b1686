package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/statefulroute/sfotel/otelexec"
)

const (
	pods        = 8
	linkSeconds = 10 // temporary links: Redis holds at most ~10 s of logins
	room        = 16
	aliveWithin = 30 * time.Second
)

// counters are the workers' shared tallies.
type counters struct {
	next      atomic.Int64 // the next uid index, before the modulo
	ops, errs atomic.Int64
	firstErr  sync.Once
	err       atomic.Value // first error, for the report
	spans     atomic.Int64 // spans the exporter was handed
}

func (c *counters) fail(err error) {
	c.errs.Add(1)
	c.firstErr.Do(func() { c.err.Store(err) })
}

func run(ctx context.Context, cfg config, out io.Writer) (bool, error) {
	// ContextTimeoutEnabled: without it go-redis ignores context deadlines
	// on reads and writes, and a stalled Redis would stall the run.
	rdb := redis.NewClient(&redis.Options{Addr: cfg.redisAddr, DialTimeout: 2 * time.Second, ContextTimeoutEnabled: true})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return false, fmt.Errorf("Redis at %s: %w", cfg.redisAddr, err)
	}

	var c counters
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(countingExporter{&c.spans}))
	defer func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(shutdown)
		_ = mp.Shutdown(shutdown)
	}()
	e, err := otelexec.New(rdb, otelexec.WithMeterProvider(mp), otelexec.WithTracerProvider(tp),
		otelexec.WithStateCache(cfg.stateTTL))
	if err != nil {
		return false, err
	}
	defer e.Close()
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = e.LoadScripts(lctx)
	cancel()
	if err != nil {
		return false, err
	}

	ns := "soak." + randomSuffix()
	defer func() {
		cleanup, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := deleteNamespace(cleanup, rdb, ns); err != nil {
			fmt.Fprintln(out, "soak: deleting the run's keys:", err)
		}
	}()
	services := make([]string, cfg.services)
	for i := range services {
		services[i] = "svc" + strconv.Itoa(i)
	}
	if err := heartbeat(ctx, e, ns, services); err != nil {
		return false, err
	}
	if err := fillPools(ctx, rdb, ns); err != nil {
		return false, err
	}

	fmt.Fprintf(out, "soak: %s, namespace %s, %d workers, %d uids, %d services, state cache TTL %v, for %v\n",
		cfg.redisAddr, ns, cfg.workers, cfg.uids, cfg.services, cfg.stateTTL, cfg.duration)
	// The workers outlive the last sample by half an interval, so no sample
	// sees operations cut short by the end of the run (their canceled
	// status would be new series).
	runCtx, cancel := context.WithTimeout(ctx, cfg.duration+cfg.interval/2)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				if err := heartbeat(runCtx, e, ns, services); err != nil && runCtx.Err() == nil {
					c.fail(err)
				}
			}
		}
	})
	for range cfg.workers {
		wg.Go(func() { work(runCtx, e, ns, services, cfg.uids, &c) })
	}

	start := time.Now()
	samples, err := watch(ctx, reader, rdb, cfg, start, &c, out)
	cancel()
	wg.Wait()
	if err != nil {
		return false, err
	}
	if ctx.Err() != nil {
		return false, errors.New("interrupted")
	}
	last := samples[len(samples)-1]
	fmt.Fprintf(out, "\n%d operations in %v (%.0f/s), %d errors, %d spans exported, %d distinct uids used\n",
		last.ops, last.at.Round(time.Second), float64(last.ops)/last.at.Seconds(), last.errs, c.spans.Load(), last.uidsSeen)
	if first, ok := c.err.Load().(error); ok {
		fmt.Fprintln(out, "first error:", first)
	}
	v, err := judge(samples, cfg.warmup, cfg.heapTolerance)
	if err != nil {
		return false, err
	}
	v.print(out, cfg.heapTolerance)
	return v.heapFlat && v.seriesConstant && last.errs == 0, nil
}

// watch takes one sample every interval for the run's duration, or until
// ctx ends.
func watch(ctx context.Context, reader *sdkmetric.ManualReader, rdb *redis.Client, cfg config, start time.Time, c *counters, out io.Writer) ([]sample, error) {
	printHeader(out)
	prev := sample{}
	var samples []sample
	t := time.NewTicker(cfg.interval)
	defer t.Stop()
	n := int(cfg.duration / cfg.interval)
	for len(samples) < n {
		select {
		case <-ctx.Done():
			return samples, nil
		case <-t.C:
		}
		s, err := take(context.Background(), reader, rdb, time.Since(start), c.ops.Load(), c.errs.Load(),
			min(c.next.Load(), int64(cfg.uids)))
		if err != nil {
			return nil, err
		}
		s.print(out, prev)
		samples, prev = append(samples, s), s
		if cfg.heapProfile == "" {
			continue
		}
		// take just ran a GC, so the profile's in-use figures are those of
		// the live heap the sample reports.
		switch {
		case len(samples) == n:
			err = writeHeapProfile(cfg.heapProfile + "-last.pb.gz")
		case s.at >= cfg.warmup && (len(samples) == 1 || samples[len(samples)-2].at < cfg.warmup):
			err = writeHeapProfile(cfg.heapProfile + "-first.pb.gz")
		}
		if err != nil {
			return nil, err
		}
	}
	return samples, nil
}

// work is one worker: per uid, link it, and sometimes read the link back,
// remove it, look up its room in one batch, or read the pod states.
func work(ctx context.Context, e *otelexec.Executor, ns string, services []string, uids int, c *counters) {
	roomUIDs := make([]string, 0, room)
	for ctx.Err() == nil {
		i := c.next.Add(1) - 1
		uid := "user-" + strconv.FormatInt(i%int64(uids), 10)
		svc := services[i%int64(len(services))]
		ops := 1
		pod, err := e.ComputeLinkedPod(ctx, ns, uid, svc, aliveWithin, linkSeconds)
		if err == nil && pod < 0 {
			err = errors.New("no live pod")
		}
		if err == nil && i%2 == 0 {
			ops++
			_, err = e.GetLinkedPod(ctx, ns, uid, svc)
		}
		if len(roomUIDs) == room {
			roomUIDs = roomUIDs[1:]
		}
		roomUIDs = append(roomUIDs, uid)
		if err == nil && i%4 == 0 {
			ops++
			_, err = e.RemoveLinkedPod(ctx, ns, uid, svc, otelexec.PersistForever)
		}
		if err == nil && i%16 == 0 {
			ops++
			_, err = e.BatchGetLinkedPod(ctx, ns, roomUIDs, svc)
		}
		if err == nil && i%64 == 0 {
			ops++
			_, err = e.GetServiceState(ctx, ns, svc)
		}
		if err != nil {
			if ctx.Err() != nil {
				return // the run ended mid-operation
			}
			c.fail(err)
			continue
		}
		c.ops.Add(int64(ops))
	}
}

// fillPools opens every connection go-redis's two pools may hold, before
// the first sample. Each connection keeps its buffers (32 KiB each way for
// commands, 128 KiB for pipelines) until it is closed, so a pool that grows
// to its size in the middle of the run steps the live heap up by as much as
// a megabyte, which is not a leak but would read as one. Blocking reads of
// a key nobody writes hold every connection at once for a second (go-redis
// rounds shorter blocking timeouts up to one).
func fillPools(ctx context.Context, rdb *redis.Client, ns string) error {
	opt := rdb.Options()
	pipelines := opt.PipelinePoolSize
	switch {
	case pipelines == 0:
		pipelines = redis.DefaultPipelinePoolSize
	case pipelines < 0: // the client has no pipeline pool
		pipelines = 0
	}
	key := "sf:{" + ns + ":soak}:never"
	var wg sync.WaitGroup
	errs := make(chan error, opt.PoolSize+pipelines)
	for range opt.PoolSize {
		wg.Go(func() { errs <- rdb.BLPop(ctx, time.Second, key).Err() })
	}
	for range pipelines {
		wg.Go(func() {
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				return p.BLPop(ctx, time.Second, key).Err()
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("filling the connection pools: %w", err)
		}
	}
	return nil
}

// heartbeat writes every pod's "<load>-<now>" state.
func heartbeat(ctx context.Context, e *otelexec.Executor, ns string, services []string) error {
	now := time.Now()
	for _, svc := range services {
		for pod := range pods {
			if err := e.SetServiceState(ctx, ns, svc, pod, otelexec.FormatPodState(int(now.UnixNano()/7+int64(pod))%50, now)); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeHeapProfile writes the heap profile to name.
func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

// countingExporter drops spans after counting them.
type countingExporter struct{ n *atomic.Int64 }

func (x countingExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	x.n.Add(int64(len(spans)))
	return nil
}
func (countingExporter) Shutdown(context.Context) error { return nil }

// deleteNamespace removes the run's keys. Namespaces cannot hold glob
// characters, so the pattern matches this run's keys only.
func deleteNamespace(ctx context.Context, rdb *redis.Client, ns string) error {
	iter := rdb.Scan(ctx, 0, "sf:{"+ns+":*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 500 {
			if err := rdb.Del(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return rdb.Del(ctx, batch...).Err()
	}
	return nil
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
