package otelexec

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
)

// hgetallCounter is a go-redis hook that counts the HGETALLs an executor
// sends. It can delay each one before it goes out (delay), or hold the next
// one's reply after Redis answered (gate), so tests can make callers overlap
// a refresh. The commands still run on the real Redis.
type hgetallCounter struct {
	n     atomic.Int64
	delay atomic.Int64 // nanoseconds
	gate  atomic.Pointer[chan struct{}]
}

func (*hgetallCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (*hgetallCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *hgetallCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "hgetall" {
			return next(ctx, cmd)
		}
		h.n.Add(1)
		if d := time.Duration(h.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				cmd.SetErr(ctx.Err())
				return ctx.Err()
			}
		}
		err := next(ctx, cmd)
		if g := h.gate.Swap(nil); g != nil {
			<-*g
		}
		return err
	}
}

// newCountingExecutor is an executor whose HGETALLs are counted, a plain
// client of the same Redis, and a namespace of the test's own.
func newCountingExecutor(t testing.TB, opts ...Option) (*Executor, *hgetallCounter, *redis.Client, string) {
	t.Helper()
	rdb := redistest.Client(t)
	h := &hgetallCounter{}
	rdb.AddHook(h)
	// A MeterProvider of its own, so the state cache's counts (which are
	// per MeterProvider) are this executor's alone.
	mp := sdkmetric.NewMeterProvider()
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	e, err := New(rdb, append([]Option{WithMeterProvider(mp)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e, h, redistest.Client(t), redistest.Namespace(t)
}

func TestStateCacheOffByDefault(t *testing.T) {
	for _, opts := range [][]Option{nil, {WithStateCache(0)}, {WithStateCache(-time.Second)}} {
		e, h, _, ns := newCountingExecutor(t, opts...)
		if e.states != nil {
			t.Fatalf("options %v made a state cache", opts)
		}
		ctx := testContext(t)
		for range 3 {
			must[map[int]string](t)(e.GetServiceState(ctx, ns, "svc"))
		}
		if got := h.n.Load(); got != 3 {
			t.Errorf("without a cache, 3 reads sent %d HGETALLs, want 3", got)
		}
	}
}

// TestStateCacheServesWithinTTL proves the cache is used at all: another
// process's write stays unseen while the entry is fresh, and is seen once the
// TTL has passed.
func TestStateCacheServesWithinTTL(t *testing.T) {
	const ttl = 300 * time.Millisecond
	e, h, raw, ns := newCountingExecutor(t, WithStateCache(ttl))
	ctx := testContext(t)
	key := stateKey(ns, "svc")
	if err := raw.HSet(ctx, key, "0", "old").Err(); err != nil {
		t.Fatal(err)
	}
	first := time.Now()
	if got := must[map[int]string](t)(e.GetServiceState(ctx, ns, "svc")); got[0] != "old" {
		t.Fatalf("first read = %v", got)
	}
	if err := raw.HSet(ctx, key, "0", "new").Err(); err != nil {
		t.Fatal(err)
	}
	got := must[map[int]string](t)(e.GetServiceState(ctx, ns, "svc"))
	if time.Since(first) < ttl && got[0] != "old" {
		t.Fatalf("read within the TTL = %v, want the cached old state", got)
	}
	if n := h.n.Load(); time.Since(first) < ttl && n != 1 {
		t.Fatalf("2 reads within the TTL sent %d HGETALLs, want 1", n)
	}
	time.Sleep(time.Until(first.Add(ttl)))
	if got := must[map[int]string](t)(e.GetServiceState(ctx, ns, "svc")); got[0] != "new" {
		t.Fatalf("read after the TTL = %v, want the new state", got)
	}
}

// writeLog records when each version of a pod state was known to be in Redis.
type writeLog struct {
	mu   sync.Mutex
	done []time.Time // done[v] is when the HSET of version v returned
}

// newestBefore is the newest version whose write had returned before t, or -1.
func (w *writeLog) newestBefore(t time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return sort.Search(len(w.done), func(i int) bool { return !w.done[i].Before(t) }) - 1
}

// TestStateCacheNeverOlderThanTTL races readers against a writer in another
// client. A read that starts at r and returns version v must not miss a
// write that was complete before r − ttl: the states it returns were read
// from Redis after that moment.
func TestStateCacheNeverOlderThanTTL(t *testing.T) {
	const (
		ttl     = 20 * time.Millisecond
		readers = 8
		runFor  = time.Second
	)
	e, h, raw, ns := newCountingExecutor(t, WithStateCache(ttl))
	ctx := testContext(t)
	key := stateKey(ns, "svc")
	log := &writeLog{}
	write := func(v int) {
		if err := raw.HSet(ctx, key, "0", strconv.Itoa(v)).Err(); err != nil {
			t.Error(err)
			return
		}
		now := time.Now()
		log.mu.Lock()
		log.done = append(log.done, now)
		log.mu.Unlock()
	}
	write(0)

	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Go(func() {
		for v := 1; ; v++ {
			select {
			case <-stop:
				return
			default:
			}
			write(v)
			time.Sleep(time.Millisecond)
		}
	})

	var reads, stale atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(runFor)
	for range readers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				start := time.Now()
				states, err := e.GetServiceState(ctx, ns, "svc")
				if err != nil {
					t.Error(err)
					return
				}
				v, err := strconv.Atoi(states[0])
				if err != nil {
					t.Errorf("state %q: %v", states[0], err)
					return
				}
				reads.Add(1)
				if oldest := log.newestBefore(start.Add(-ttl)); v < oldest {
					t.Errorf("read at %v returned version %d, but version %d was written more than the TTL (%v) before the read",
						start.Format(time.StampMicro), v, oldest, ttl)
					return
				}
				if v < log.newestBefore(start) {
					stale.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	writer.Wait()

	// Without these the test would pass with no cache at all.
	if hits := e.states.hits.Load(); hits == 0 {
		t.Errorf("no cache hits in %d reads", reads.Load())
	}
	if stale.Load() == 0 {
		t.Errorf("no read in %d returned a state older than the newest write: the cache was not exercised", reads.Load())
	}
	if n := h.n.Load(); n >= reads.Load() {
		t.Errorf("%d HGETALLs for %d reads: the cache saved nothing", n, reads.Load())
	}
	t.Logf("%d reads, %d HGETALLs, %d older than the newest write (all within the TTL)", reads.Load(), h.n.Load(), stale.Load())
}

// TestStateCacheSingleFlight: 50 callers missing at once share one HGETALL.
func TestStateCacheSingleFlight(t *testing.T) {
	e, h, raw, ns := newCountingExecutor(t, WithStateCache(time.Minute))
	ctx := testContext(t)
	if err := raw.HSet(ctx, stateKey(ns, "svc"), "1", "5-100", "2", "7-100").Err(); err != nil {
		t.Fatal(err)
	}
	h.delay.Store(int64(50 * time.Millisecond)) // callers arrive while the first HGETALL is out

	const n = 50
	results := make([]map[int]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = e.GetServiceState(ctx, ns, "svc")
		})
	}
	close(start)
	wg.Wait()

	want := map[int]string{1: "5-100", 2: "7-100"}
	for i := range n {
		if errs[i] != nil || !maps.Equal(results[i], want) {
			t.Fatalf("caller %d: %v, %v; want %v", i, results[i], errs[i], want)
		}
	}
	if got := h.n.Load(); got != 1 {
		t.Errorf("%d concurrent misses sent %d HGETALLs, want 1", n, got)
	}
	if hits, misses := e.states.hits.Load(), e.states.misses.Load(); hits+misses != n || misses == 0 {
		t.Errorf("hits %d + misses %d, want %d reads with at least one miss", hits, misses, n)
	}
}

// TestStateCacheOwnWrite: SetServiceState on the same executor is seen by the
// next read, even when a refresh that started before the write is still out.
func TestStateCacheOwnWrite(t *testing.T) {
	e, h, _, ns := newCountingExecutor(t, WithStateCache(time.Minute))
	ctx := testContext(t)
	if err := e.SetServiceState(ctx, ns, "svc", 0, "a"); err != nil {
		t.Fatal(err)
	}
	if got := must[map[int]string](t)(e.GetServiceState(ctx, ns, "svc")); got[0] != "a" {
		t.Fatalf("read = %v", got)
	}
	if err := e.SetServiceState(ctx, ns, "svc", 0, "b"); err != nil {
		t.Fatal(err)
	}
	if got := must[map[int]string](t)(e.GetServiceState(ctx, ns, "svc")); got[0] != "b" {
		t.Fatalf("read after own write = %v, want b", got)
	}

	// A refresh reads "b2" from Redis and is held before it returns; then
	// this executor writes "c". A read after the write must not join that
	// refresh (it would wait for the gate and time out), and the refresh must
	// not put "b2" back when it is released.
	if err := e.SetServiceState(ctx, ns, "svc", 0, "b2"); err != nil { // drops the entry
		t.Fatal(err)
	}
	gate := make(chan struct{})
	h.gate.Store(&gate)
	early := make(chan map[int]string, 1)
	go func() {
		states, err := e.GetServiceState(ctx, ns, "svc")
		if err != nil {
			t.Error(err)
		}
		early <- states
	}()
	for h.gate.Load() != nil { // the early refresh has its reply and is held
		time.Sleep(time.Millisecond)
	}
	if err := e.SetServiceState(ctx, ns, "svc", 0, "c"); err != nil {
		t.Fatal(err)
	}
	afterWrite, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if got, err := e.GetServiceState(afterWrite, ns, "svc"); err != nil || got[0] != "c" {
		t.Fatalf("read after own write, with an older refresh held = %v, %v; want c", got, err)
	}
	close(gate)
	if got := <-early; got[0] != "b2" {
		t.Fatalf("the held read = %v, want b2", got)
	}
	if got := must[map[int]string](t)(e.GetServiceState(ctx, ns, "svc")); got[0] != "c" {
		t.Fatalf("read after the older refresh landed = %v, want c: it put its stale states back", got)
	}
}

// TestStateCacheComputeLinkedPod: ComputeLinkedPod reads the states through
// the cache, and its choice follows the executor's own state writes at once.
func TestStateCacheComputeLinkedPod(t *testing.T) {
	e, h, _, ns := newCountingExecutor(t, WithStateCache(time.Minute))
	ctx := testContext(t)
	now := time.Now()
	must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "game", 1, FormatPodState(5, now)))
	must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "game", 2, FormatPodState(3, now)))
	for i := range 20 {
		pod := must[int](t)(e.ComputeLinkedPod(ctx, ns, fmt.Sprintf("u%d", i), "game", 2*time.Minute, 60))
		if pod != 2 {
			t.Fatalf("user %d linked to pod %d, want 2 (lowest load)", i, pod)
		}
	}
	if got := h.n.Load(); got != 1 {
		t.Errorf("20 ComputeLinkedPod calls for new users sent %d HGETALLs, want 1", got)
	}
	must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "game", 1, FormatPodState(1, now)))
	if pod := must[int](t)(e.ComputeLinkedPod(ctx, ns, "late", "game", 2*time.Minute, 60)); pod != 1 {
		t.Errorf("after pod 1's load dropped, new user linked to pod %d, want 1", pod)
	}
}

// TestStateCacheCopies: a caller modifying GetServiceState's map does not
// change what other callers read.
func TestStateCacheCopies(t *testing.T) {
	e, _, _, ns := newCountingExecutor(t, WithStateCache(time.Minute))
	ctx := testContext(t)
	must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "svc", 0, "a"))
	got := must[map[int]string](t)(e.GetServiceState(ctx, ns, "svc"))
	got[0] = "scribbled"
	got[9] = "added"
	if again := must[map[int]string](t)(e.GetServiceState(ctx, ns, "svc")); !maps.Equal(again, map[int]string{0: "a"}) {
		t.Errorf("after the caller changed its map, the cache reads %v", again)
	}
}

// TestStateCacheErrors: a failed read is not cached, and a waiter whose own
// context ends stops waiting.
func TestStateCacheErrors(t *testing.T) {
	e, h, _, ns := newCountingExecutor(t, WithStateCache(time.Minute))
	ctx := testContext(t)
	must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "svc", 0, "a"))

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.GetServiceState(canceled, ns, "svc"); !errors.Is(err, context.Canceled) {
		t.Fatalf("read with a canceled context: %v, want context.Canceled", err)
	}
	before := h.n.Load()
	if got := must[map[int]string](t)(e.GetServiceState(ctx, ns, "svc")); got[0] != "a" {
		t.Fatalf("read after a failed one = %v", got)
	}
	if h.n.Load() != before+1 {
		t.Errorf("the read after a failure sent %d HGETALLs, want 1: the failure must not be cached", h.n.Load()-before)
	}

	// A slow refresh is out; a waiter with a short deadline gives up on time
	// while the refresh still serves everyone else.
	must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "svc", 0, "b"))
	h.delay.Store(int64(300 * time.Millisecond))
	leader := make(chan error, 1)
	go func() {
		_, err := e.GetServiceState(ctx, ns, "svc")
		leader <- err
	}()
	for h.n.Load() < before+2 {
		time.Sleep(time.Millisecond)
	}
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	began := time.Now()
	if _, err := e.GetServiceState(short, ns, "svc"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter with a 20 ms deadline: %v, want context.DeadlineExceeded", err)
	}
	if waited := time.Since(began); waited > 200*time.Millisecond {
		t.Errorf("waiter with a 20 ms deadline returned after %v", waited)
	}
	if err := <-leader; err != nil {
		t.Errorf("the refresh's own caller: %v", err)
	}
}

// TestStateCacheLeaderCanceled: when the caller leading a refresh gives up,
// callers waiting on it are served by a new read, not handed its error.
func TestStateCacheLeaderCanceled(t *testing.T) {
	e, h, _, ns := newCountingExecutor(t, WithStateCache(time.Minute))
	ctx := testContext(t)
	must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "svc", 0, "a"))
	h.delay.Store(int64(100 * time.Millisecond))
	leaderCtx, cancelLeader := context.WithCancel(ctx)
	leader := make(chan error, 1)
	go func() {
		_, err := e.GetServiceState(leaderCtx, ns, "svc")
		leader <- err
	}()
	for h.n.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	waiter := make(chan error, 1)
	go func() {
		states, err := e.GetServiceState(ctx, ns, "svc")
		if err == nil && states[0] != "a" {
			err = fmt.Errorf("states %v", states)
		}
		waiter <- err
	}()
	time.Sleep(10 * time.Millisecond) // the waiter joins the flight
	cancelLeader()
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled leader: %v, want context.Canceled", err)
	}
	if err := <-waiter; err != nil {
		t.Errorf("waiter of a canceled leader: %v, want the states", err)
	}
}

// TestStateCacheBounded: reading more services than MaxCachedServices keeps
// at most that many entries.
func TestStateCacheBounded(t *testing.T) {
	e, _, _, ns := newCountingExecutor(t, WithStateCache(time.Minute))
	ctx := testContext(t)
	for i := range MaxCachedServices + 50 {
		must[map[int]string](t)(e.GetServiceState(ctx, ns, "svc"+strconv.Itoa(i)))
		if n := e.states.len(); n > MaxCachedServices {
			t.Fatalf("after %d services the cache holds %d entries, limit %d", i+1, n, MaxCachedServices)
		}
	}
	if n := e.states.len(); n < MaxCachedServices/2 {
		t.Errorf("the cache holds %d entries after %d services: eviction dropped too much", n, MaxCachedServices+50)
	}
	// The newest service is cached and served.
	last := "svc" + strconv.Itoa(MaxCachedServices+49)
	hits := e.states.hits.Load()
	must[map[int]string](t)(e.GetServiceState(ctx, ns, last))
	if e.states.hits.Load() != hits+1 {
		t.Errorf("the newest service was not served from the cache")
	}
}

// TestStateCacheMetrics: hits, misses and the hit ratio with
// cache_type="state" appear next to the script cache's ratio, in one metric.
func TestStateCacheMetrics(t *testing.T) {
	in, ns := newInstrumented(t, WithStateCache(time.Minute))
	ctx := testContext(t)
	if err := in.LoadScripts(ctx); err != nil { // so that ComputeLinkedPod's script runs by EVALSHA
		t.Fatal(err)
	}
	must[struct{}](t)(struct{}{}, in.SetServiceState(ctx, ns, "game", 0, FormatPodState(1, time.Now())))
	for range 4 { // 1 miss, 3 hits
		must[map[int]string](t)(in.GetServiceState(ctx, ns, "game"))
	}
	must[int](t)(in.ComputeLinkedPod(ctx, ns, "u1", "game", 2*time.Minute, 60)) // 1 hit, and one EVALSHA

	rm := in.collect(t)
	if got := sumOf(t, rm, contract.MetricStateCacheHits); got != 4 {
		t.Errorf("%s = %d, want 4", contract.MetricStateCacheHits, got)
	}
	if got := sumOf(t, rm, contract.MetricStateCacheMisses); got != 1 {
		t.Errorf("%s = %d, want 1", contract.MetricStateCacheMisses, got)
	}
	ratios := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == contract.MetricCacheHitRatio {
				ratios++
			}
		}
	}
	if ratios != 1 {
		t.Fatalf("%d metrics named %s, want 1 carrying both cache types", ratios, contract.MetricCacheHitRatio)
	}
	m, _ := findMetric(rm, contract.MetricCacheHitRatio)
	byType := map[string]float64{}
	for _, p := range m.Data.(metricdata.Gauge[float64]).DataPoints {
		v, _ := p.Attributes.Value(attribute.Key(contract.AttrCacheType))
		byType[v.AsString()] = p.Value
	}
	if got, ok := byType[contract.CacheState]; !ok || got != 0.8 {
		t.Errorf("cache_hit_ratio{cache_type=state} = %v (present %v), want 0.8", got, ok)
	}
	if _, ok := byType[contract.CacheScript]; !ok {
		t.Errorf("cache_hit_ratio{cache_type=script} is missing: %v", byType)
	}

	// The counts outlive the executor: they are the MeterProvider's.
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if got := sumOf(t, in.collect(t), contract.MetricStateCacheHits); got != 4 {
		t.Errorf("%s after Close = %d, want 4", contract.MetricStateCacheHits, got)
	}
}

// TestStateCacheRefusesShortAliveWithin: with a state cache, an aliveWithin
// not longer than its TTL is refused, naming aliveWithin: cached heartbeats
// are up to the TTL old, so most logins would find no live pod. Just above
// the TTL is accepted.
func TestStateCacheRefusesShortAliveWithin(t *testing.T) {
	e, _, _, ns := newCountingExecutor(t, WithStateCache(2*time.Second))
	ctx := testContext(t)
	must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "game", 1, FormatPodState(0, time.Now())))
	for _, alive := range []time.Duration{time.Second, 2 * time.Second} {
		_, err := e.ComputeLinkedPod(ctx, ns, "u", "game", alive, 60)
		var ae *ArgumentError
		if !errors.As(err, &ae) || ae.Field != "aliveWithin" || !strings.Contains(err.Error(), "WithStateCache") {
			t.Errorf("aliveWithin %v with a 2s state cache: %v, want an ArgumentError for aliveWithin naming WithStateCache", alive, err)
		}
	}
	if pod := must[int](t)(e.ComputeLinkedPod(ctx, ns, "u", "game", 2*time.Second+time.Millisecond, 60)); pod != 1 {
		t.Errorf("aliveWithin just above the TTL: pod %d, want 1", pod)
	}
	// Without a cache the same window is fine.
	plain, _, _ := newTestExecutor(t)
	if pod := must[int](t)(plain.ComputeLinkedPod(ctx, ns, "w", "game", time.Second, 60)); pod != 1 {
		t.Errorf("aliveWithin 1s without a cache: pod %d, want 1", pod)
	}
}
