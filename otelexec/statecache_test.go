package otelexec

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
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

	perKey sync.Map                // key → *atomic.Int64, the HGETALLs of each key
	hold   atomic.Pointer[keyHold] // holds every HGETALL of one key before it goes out
}

// keyHold holds the HGETALLs of one key: each one signals arrived, then
// waits for release to be closed.
type keyHold struct {
	key      string
	arrived  chan struct{} // buffered
	release  chan struct{}
	released sync.Once
}

func newKeyHold(key string) *keyHold {
	return &keyHold{key: key, arrived: make(chan struct{}, 16), release: make(chan struct{})}
}

func (k *keyHold) open() { k.released.Do(func() { close(k.release) }) }

// of is the number of HGETALLs of key sent so far.
func (h *hgetallCounter) of(key string) int64 {
	if n, ok := h.perKey.Load(key); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

func (*hgetallCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessPipelineHook counts the HGETALLs ComputeLinkedPod pipelines with
// its link read (without a cache, or for a service the cache turned away).
func (h *hgetallCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if cmd.Name() == "hgetall" {
				h.n.Add(1)
				key, _ := cmd.Args()[1].(string)
				n, _ := h.perKey.LoadOrStore(key, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
		}
		return next(ctx, cmds)
	}
}
func (h *hgetallCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "hgetall" {
			return next(ctx, cmd)
		}
		h.n.Add(1)
		key, _ := cmd.Args()[1].(string)
		n, _ := h.perKey.LoadOrStore(key, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		if k := h.hold.Load(); k != nil && k.key == key {
			k.arrived <- struct{}{}
			select {
			case <-k.release:
			case <-ctx.Done():
				cmd.SetErr(ctx.Err())
				return ctx.Err()
			}
		}
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
	cached := time.Now() // the HGETALL was sent between first and cached
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
	time.Sleep(time.Until(cached.Add(ttl)))
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

// TestStateCacheBounded: reading more services than the cache's byte bound
// holds keeps the bytes it accounts within the bound, evicts no more than it
// must, and serves the newest service from the cache.
func TestStateCacheBounded(t *testing.T) {
	const bound = 64 << 10
	e, _, _, ns := newCountingExecutor(t, WithStateCache(time.Minute), WithStateCacheMaxBytes(bound))
	ctx := testContext(t)
	const services = 1100
	for i := range services {
		must[map[int]string](t)(e.GetServiceState(ctx, ns, "svc"+strconv.Itoa(i)))
		if n := e.states.size(); n > bound {
			t.Fatalf("after %d services the cache accounts %d bytes, bound %d", i+1, n, bound)
		}
	}
	if n, size := e.states.len(), e.states.size(); n >= services || size < bound*3/4 {
		t.Errorf("the cache holds %d of %d services in %d bytes (bound %d): want it full, and no more", n, services, size, bound)
	}
	// The newest service, read again, is cached: its next read is a hit.
	last := "svc" + strconv.Itoa(services-1)
	must[map[int]string](t)(e.GetServiceState(ctx, ns, last))
	hits := e.states.hits.Load()
	must[map[int]string](t)(e.GetServiceState(ctx, ns, last))
	if e.states.hits.Load() != hits+1 {
		t.Errorf("the newest service, read twice, was not served from the cache")
	}
	if n := e.states.size(); n > bound {
		t.Errorf("the cache accounts %d bytes, bound %d", n, bound)
	}
}

// FuzzStateCacheMaxBytes: whatever the bound (every n > 0 is valid, the
// smallest below what one service takes), a sequence of reads and writes of
// services of 0 to 300 pods returns what Redis holds, and the cache never
// accounts more than the bound. A bound below the admission table's own
// bytes once made a read evict its own entry and then dereference the
// empty ring.
func FuzzStateCacheMaxBytes(f *testing.F) {
	for _, n := range []int64{1, 127, 128, 129, 400, 1 << 10, 16 << 10, DefaultStateCacheMaxBytes} {
		f.Add(n, []byte{0, 1, 2, 3, 3, 2, 1, 0, 0x42, 2, 0xc3, 3})
	}
	rdb := redistest.Client(f)
	ns := redistest.Namespace(f)
	ctx := context.Background()
	pods := []int{0, 1, 16, 300}
	want := make([]map[int]string, len(pods))
	for svc, n := range pods {
		want[svc] = map[int]string{}
		for pod := range n {
			want[svc][pod] = FormatPodState(pod, time.UnixMilli(1_764_000_000_000)) // pod 0's load 0, as the writes below keep it
			if err := rdb.HSet(ctx, stateKey(ns, "svc"+strconv.Itoa(svc)), strconv.Itoa(pod), want[svc][pod]).Err(); err != nil {
				f.Fatal(err)
			}
		}
	}
	f.Fuzz(func(t *testing.T, n int64, ops []byte) {
		if n <= 0 || len(ops) > 64 {
			t.Skip()
		}
		e := must[*Executor](t)(New(rdb, WithStateCache(time.Hour), WithStateCacheMaxBytes(n)))
		defer e.Close()
		beat := time.UnixMilli(1_764_000_000_000)
		for _, op := range ops {
			svc := int(op&0x7f) % len(pods)
			name := "svc" + strconv.Itoa(svc)
			if op&0x80 != 0 && pods[svc] > 0 { // rewrite pod 0's state as it is: the cache drops the service
				if err := e.SetServiceState(ctx, ns, name, 0, FormatPodState(0, beat)); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := e.GetServiceState(ctx, ns, name)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, want[svc]) {
				t.Fatalf("bound %d: %s read %d states, want %d", n, name, len(got), len(want[svc]))
			}
			e.states.mu.Lock()
			used, budget := e.states.used, e.states.budget
			e.states.mu.Unlock()
			if used > budget || budget > n {
				t.Fatalf("bound %d: the entries account %d bytes, budget %d", n, used, budget)
			}
		}
	})
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

// TestStateCacheMaxBytesOption: the byte bound has a default, takes a
// value, and refuses one that is not positive with a New error naming the
// option.
func TestStateCacheMaxBytesOption(t *testing.T) {
	rdb := redistest.Client(t)
	for _, n := range []int64{0, -1} {
		_, err := New(rdb, WithStateCache(time.Second), WithStateCacheMaxBytes(n))
		want := "otelexec: WithStateCacheMaxBytes: must be > 0, got " + strconv.FormatInt(n, 10)
		if err == nil || err.Error() != want {
			t.Errorf("WithStateCacheMaxBytes(%d): New returned %v, want %q", n, err, want)
		}
	}
	// Refused without WithStateCache too: the value is wrong either way.
	if _, err := New(rdb, WithStateCacheMaxBytes(-5)); err == nil || !strings.Contains(err.Error(), "WithStateCacheMaxBytes") {
		t.Errorf("WithStateCacheMaxBytes(-5) alone: New returned %v, want an error naming the option", err)
	}
	e := must[*Executor](t)(New(rdb, WithStateCache(time.Second)))
	if e.states.maxBytes != DefaultStateCacheMaxBytes {
		t.Errorf("default bound %d, want DefaultStateCacheMaxBytes (%d)", e.states.maxBytes, DefaultStateCacheMaxBytes)
	}
	e = must[*Executor](t)(New(rdb, WithStateCache(time.Second), WithStateCacheMaxBytes(1<<20)))
	if e.states.maxBytes != 1<<20 {
		t.Errorf("WithStateCacheMaxBytes(1 MiB): bound %d", e.states.maxBytes)
	}
}

// sameShard returns a service name, other than svc, in svc's shard.
func sameShard(t *testing.T, sc *stateCache, ns, svc, prefix string) string {
	t.Helper()
	for i := range 100_000 {
		other := prefix + strconv.Itoa(i)
		if sc.shardOf(ns, other) == sc.shardOf(ns, svc) {
			return other
		}
	}
	t.Fatal("no service in the same shard")
	return ""
}

// TestStateCacheHitDoesNotWait: while service A's HGETALL is held before it
// goes out, hits on service B (in A's shard) return at once and send
// nothing, while misses on other services go on, evict, and are served
// too: no lock a hit takes is held across another service's Redis call, a
// miss or an eviction.
func TestStateCacheHitDoesNotWait(t *testing.T) {
	e, h, raw, ns := newCountingExecutor(t, WithStateCache(time.Minute), WithStateCacheMaxBytes(16<<10))
	ctx := testContext(t)
	const b = "hot"
	a := sameShard(t, e.states, ns, b, "held")
	if err := raw.HSet(ctx, stateKey(ns, b), "1", "5-100").Err(); err != nil {
		t.Fatal(err)
	}
	if err := raw.HSet(ctx, stateKey(ns, a), "2", "7-100").Err(); err != nil {
		t.Fatal(err)
	}
	must[map[int]string](t)(e.GetServiceState(ctx, ns, b))

	hold := newKeyHold(stateKey(ns, a))
	h.hold.Store(hold)
	defer hold.open()
	heldRead := make(chan error, 1)
	go func() {
		states, err := e.GetServiceState(ctx, ns, a)
		if err == nil && states[2] != "7-100" {
			err = fmt.Errorf("states %v", states)
		}
		heldRead <- err
	}()
	<-hold.arrived // A's HGETALL is held now

	hits := e.states.hits.Load()
	const reads = 300
	for i := range reads {
		short, cancel := context.WithTimeout(ctx, time.Second)
		states, err := e.GetServiceState(short, ns, b)
		cancel()
		if err != nil || states[1] != "5-100" {
			t.Fatalf("hit %d on B while A's HGETALL is held: %v, %v", i, states, err)
		}
		// A cold service's miss, which evicts: the bound holds a few dozen.
		must[map[int]string](t)(e.GetServiceState(ctx, ns, "cold"+strconv.Itoa(i)))
	}
	if got := e.states.hits.Load() - hits; got < reads {
		t.Errorf("%d of %d reads of B were hits", got, reads)
	}
	if n := h.of(stateKey(ns, b)); n != 1 {
		t.Errorf("B sent %d HGETALLs, want 1: it was evicted or waited", n)
	}
	select {
	case err := <-heldRead:
		t.Fatalf("A's read returned while its HGETALL was held: %v", err)
	default:
	}
	hold.open()
	if err := <-heldRead; err != nil {
		t.Errorf("A's read once released: %v", err)
	}
}

// TestStateCacheKeepsHotServices: at 3000 services and a bound that holds a
// few dozen, a service read between every two cold ones stays cached the
// whole time while the cold ones are evicted. Each cold service is read
// twice in a row, so that the cache admits it (a service read once, in a
// full cache, is served and not kept: TestStateCacheAdmission).
func TestStateCacheKeepsHotServices(t *testing.T) {
	const bound = 16 << 10
	e, h, _, ns := newCountingExecutor(t, WithStateCache(time.Minute), WithStateCacheMaxBytes(bound))
	ctx := testContext(t)
	const cold = 3000
	must[map[int]string](t)(e.GetServiceState(ctx, ns, "hot"))
	for i := range cold {
		for range 2 {
			must[map[int]string](t)(e.GetServiceState(ctx, ns, "cold"+strconv.Itoa(i)))
		}
		must[map[int]string](t)(e.GetServiceState(ctx, ns, "hot"))
	}
	if n := h.of(stateKey(ns, "hot")); n != 1 {
		t.Errorf("the hot service sent %d HGETALLs over %d cold services, want 1: it was evicted", n, cold)
	}
	if n, size := e.states.len(), e.states.size(); n >= cold/10 || size > bound {
		t.Errorf("the cache holds %d services in %d bytes (bound %d): the cold ones were not evicted", n, size, bound)
	}
	if e.states.cached(ns, "cold0") {
		t.Errorf("the first cold service is still cached")
	}
	if !e.states.cached(ns, "hot") {
		t.Errorf("the hot service is not cached")
	}
}

// TestStateCacheEvictsColdFirst: with ten services filling the bound and
// five of them read again, five new services (each read twice, so the full
// cache admits it) evict the five not read again.
func TestStateCacheEvictsColdFirst(t *testing.T) {
	ctx := testContext(t)
	fill := func(e *Executor, ns string, names ...string) {
		for _, svc := range names {
			must[map[int]string](t)(e.GetServiceState(ctx, ns, svc))
		}
	}
	names := func(from, to int) []string {
		var s []string
		for i := from; i < to; i++ {
			s = append(s, fmt.Sprintf("s%02d", i))
		}
		return s
	}
	// What one service accounts: every name has the same length, every
	// hash the same states.
	probe, _, raw, ns := newCountingExecutor(t, WithStateCache(time.Minute))
	for _, svc := range names(0, 15) {
		if err := raw.HSet(ctx, stateKey(ns, svc), "1", "5-100", "2", "7-100").Err(); err != nil {
			t.Fatal(err)
		}
	}
	fill(probe, ns, "s00")
	one := probe.states.size() - doorBytes(len(probe.states.door))
	// A bound whose budget for entries, beside the admission table, is ten
	// services.
	bound := int64(0)
	for slots := 16; slots <= 4096 && bound == 0; slots *= 2 {
		if b := 10*one + doorBytes(slots); doorSlots(b) == slots {
			bound = b
		}
	}

	e, _, _, _ := newCountingExecutor(t, WithStateCache(time.Minute), WithStateCacheMaxBytes(bound))
	fill(e, ns, names(0, 10)...)
	fill(e, ns, names(0, 5)...) // read again: in use
	if n := e.states.len(); n != 10 {
		t.Fatalf("10 services of %d bytes in a bound of %d: %d cached", one, bound, n)
	}
	for _, svc := range names(10, 15) {
		fill(e, ns, svc, svc)
	}
	for _, svc := range names(0, 15) {
		want := svc < "s05" || svc >= "s10"
		if got := e.states.cached(ns, svc); got != want {
			t.Errorf("%s cached = %v, want %v", svc, got, want)
		}
	}
}

// TestStateCacheAdmission: a full cache keeps a service read once only if
// it is read again soon, so services read in turn with more others than it
// holds (a loop over every service) do not evict one another on every
// read: the services it holds stay, and are hit each time round.
func TestStateCacheAdmission(t *testing.T) {
	const bound = 32 << 10
	e, h, _, ns := newCountingExecutor(t, WithStateCache(time.Minute), WithStateCacheMaxBytes(bound))
	ctx := testContext(t)
	read := func(svc string) { must[map[int]string](t)(e.GetServiceState(ctx, ns, svc)) }

	// A loop over about three times as many services as the cache holds.
	const loop, rounds = 300, 5
	var held int
	var hits uint64
	for round := range rounds {
		for i := range loop {
			read("loop" + strconv.Itoa(i))
		}
		if round == 0 {
			held, hits = e.states.len(), e.states.hits.Load()
		}
	}
	ratio := float64(e.states.hits.Load()-hits) / float64((rounds-1)*loop)
	t.Logf("%d services in turn, a cache holding %d: hit ratio %.2f after the first round", loop, held, ratio)
	if held >= loop/2 || ratio < 0.8*float64(held)/loop {
		t.Errorf("hit ratio %.2f over a loop of %d services through a cache holding %d: want about %.2f (an LRU gets 0)", ratio, loop, held, float64(held)/loop)
	}

	// Read once: served, not kept; read again: kept.
	read("once")
	if e.states.cached(ns, "once") || e.states.len() > held {
		t.Errorf("a service read once in a full cache was kept (%d entries, %d before)", e.states.len(), held)
	}
	read("once")
	if !e.states.cached(ns, "once") {
		t.Errorf("a service read twice in a row was not kept")
	}
	if n := h.of(stateKey(ns, "once")); n != 2 {
		t.Errorf("the service read twice sent %d HGETALLs, want 2", n)
	}
	if n := e.states.size(); n > bound {
		t.Errorf("the cache accounts %d bytes, bound %d", n, bound)
	}
	e.states.checkBooks(t)
}

// TestStateCacheTurnedAwayReadsRedis: a service a full cache turns away is
// read as without a cache, and both readers (GetServiceState and
// ComputeLinkedPod) still answer from its states in Redis.
func TestStateCacheTurnedAwayReadsRedis(t *testing.T) {
	e, h, _, ns := newCountingExecutor(t, WithStateCache(time.Minute), WithStateCacheMaxBytes(16<<10))
	ctx := testContext(t)
	for i := 0; i < 1000 && !(i > 0 && !e.states.cached(ns, "fill"+strconv.Itoa(i-1))); i++ {
		must[map[int]string](t)(e.GetServiceState(ctx, ns, "fill"+strconv.Itoa(i))) // until one is not kept: full
	}
	now := time.Now().Unix()
	for _, svc := range []string{"away-read", "away-compute"} {
		for pod, load := range map[int]int{1: 5, 2: 3, 3: 9} {
			if err := e.SetServiceState(ctx, ns, svc, pod, strconv.Itoa(load)+"-"+strconv.FormatInt(now, 10)); err != nil {
				t.Fatal(err)
			}
		}
	}
	misses := e.states.misses.Load()

	states := must[map[int]string](t)(e.GetServiceState(ctx, ns, "away-read"))
	if len(states) != 3 || states[2] != "3-"+strconv.FormatInt(now, 10) {
		t.Errorf("GetServiceState of a turned-away service = %v, want its 3 states", states)
	}
	if pod := must[int](t)(e.ComputeLinkedPod(ctx, ns, "u1", "away-compute", time.Hour, PersistForever)); pod != 2 {
		t.Errorf("ComputeLinkedPod over a turned-away service chose pod %d, want 2 (the lowest load)", pod)
	}
	for _, svc := range []string{"away-read", "away-compute"} {
		if e.states.cached(ns, svc) {
			t.Errorf("%s, read once in a full cache, was kept", svc)
		}
		if n := h.of(stateKey(ns, svc)); n != 1 {
			t.Errorf("%s: %d HGETALLs, want 1", svc, n)
		}
	}
	if got := e.states.misses.Load() - misses; got != 2 {
		t.Errorf("two turned-away reads counted %d misses, want 2", got)
	}
	e.states.checkBooks(t)
}

// TestStateCacheAdmitsOverExpired: a full cache whose entries have expired
// keeps a new service read once: expired states are worth nothing, so a new
// working set replaces an old one within the TTL.
func TestStateCacheAdmitsOverExpired(t *testing.T) {
	const ttl = 50 * time.Millisecond
	e, _, _, ns := newCountingExecutor(t, WithStateCache(ttl), WithStateCacheMaxBytes(16<<10))
	ctx := testContext(t)
	read := func(svc string) { must[map[int]string](t)(e.GetServiceState(ctx, ns, svc)) }
	for i := 0; i < 1000 && !(i > 0 && !e.states.cached(ns, "old"+strconv.Itoa(i-1))); i++ {
		read("old" + strconv.Itoa(i)) // until one is not kept: full
	}
	read("new0")
	if e.states.cached(ns, "new0") {
		t.Fatalf("a service read once was kept in a full cache of fresh entries")
	}
	time.Sleep(2 * ttl)
	for i := range 10 {
		read("new" + strconv.Itoa(i+1))
		if !e.states.cached(ns, "new"+strconv.Itoa(i+1)) {
			t.Errorf("new service %d, read once, not kept in a full cache of expired entries", i+1)
		}
	}
	e.states.checkBooks(t)
}

// TestStateCacheByteBound: the bytes the cache accounts are the bytes it
// holds, within a tolerance, as the Go heap measures them, for large and for
// small services; and they stay within the bound when far more is read.
func TestStateCacheByteBound(t *testing.T) {
	for _, c := range []struct {
		services, under, pods int
		bound                 int64
	}{
		{services: 120, under: 20, pods: 2000, bound: 4 << 20},
		{services: 3000, under: 500, pods: 16, bound: 1 << 20},
	} {
		t.Run(fmt.Sprintf("pods=%d", c.pods), func(t *testing.T) {
			// No counting hook here: its own count per key would grow the heap too.
			e, raw, ns := newTestExecutor(t, WithStateCache(time.Minute), WithStateCacheMaxBytes(c.bound))
			ctx := testContext(t)
			now := time.Now()
			_, err := raw.Pipelined(ctx, func(p redis.Pipeliner) error {
				for s := range c.services {
					fields := make([]any, 0, 2*c.pods)
					for pod := range c.pods {
						fields = append(fields, strconv.Itoa(pod), FormatPodState(s*c.pods+pod, now))
					}
					p.HSet(ctx, stateKey(ns, "svc"+strconv.Itoa(s)), fields...)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			must[map[int]string](t)(e.GetServiceState(ctx, ns, "warm-up")) // the client's connection and buffers
			heap := func() int64 {
				var m runtime.MemStats
				runtime.GC()
				runtime.GC()
				runtime.ReadMemStats(&m)
				return int64(m.HeapAlloc)
			}
			within := func(got, want int64) bool { return got >= want*85/100 && got <= want*115/100 }

			// Under the bound: what the cache accounts against what the heap grew by.
			before := heap()
			for s := range c.under {
				must[map[int]string](t)(e.GetServiceState(ctx, ns, "svc"+strconv.Itoa(s)))
			}
			grown, accounted := heap()-before, e.states.size()
			t.Logf("%d services of %d pods: heap grew %d bytes, the cache accounts %d (%d a service)", c.under, c.pods, grown, accounted, accounted/int64(c.under))
			if e.states.len() != c.under+1 || !within(grown, accounted) {
				t.Errorf("%d services of %d pods (%d cached): heap grew %d bytes, the cache accounts %d: want all cached, within 15%%", c.under, c.pods, e.states.len(), grown, accounted)
			}

			// Over it: far more read than the bound holds.
			for s := range c.services {
				must[map[int]string](t)(e.GetServiceState(ctx, ns, "svc"+strconv.Itoa(s)))
			}
			grown, accounted = heap()-before, e.states.size()
			t.Logf("%d services of %d pods (%d cached): heap grew %d bytes, the cache accounts %d, bound %d", c.services, c.pods, e.states.len(), grown, accounted, c.bound)
			if accounted > c.bound || accounted < c.bound*3/4 {
				t.Errorf("after %d services the cache accounts %d bytes, bound %d: want it full and within", c.services, accounted, c.bound)
			}
			if grown > c.bound*115/100 || !within(grown, accounted) {
				t.Errorf("after %d services the heap grew %d bytes, the cache accounts %d, bound %d: want within 15%%", c.services, grown, accounted, c.bound)
			}

			// Close releases it.
			atClose := heap()
			must[struct{}](t)(struct{}{}, e.Close())
			if freed := atClose - heap(); !within(freed, accounted) {
				t.Errorf("Close freed %d bytes of a cache accounting %d", freed, accounted)
			}
		})
	}
}

// TestStateCacheNeverJoinsAStaleFlight: a caller does not wait for an
// HGETALL sent more than the TTL before it came, since that HGETALL's
// states could be older than the TTL when it returned them.
func TestStateCacheNeverJoinsAStaleFlight(t *testing.T) {
	const ttl = 50 * time.Millisecond
	e, h, raw, ns := newCountingExecutor(t, WithStateCache(ttl))
	ctx := testContext(t)
	key := stateKey(ns, "svc")
	must[int64](t)(raw.HSet(ctx, key, "0", "old").Result())
	gate := make(chan struct{})
	h.gate.Store(&gate) // holds the next HGETALL's reply, read as "old"
	early := make(chan map[int]string, 1)
	go func() {
		states, _ := e.GetServiceState(ctx, ns, "svc")
		early <- states
	}()
	for h.gate.Load() != nil {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(2 * ttl)
	must[int64](t)(raw.HSet(ctx, key, "0", "new").Result())
	late, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if got, err := e.GetServiceState(late, ns, "svc"); err != nil || got[0] != "new" {
		t.Errorf("a read %v after a held HGETALL was sent: %v, %v; want its own HGETALL's new state", 2*ttl, got, err)
	}
	close(gate)
	if got := <-early; got[0] != "old" {
		t.Errorf("the held read = %v, want old", got)
	}
}

// TestStateCacheConcurrent races readers, ComputeLinkedPod and own writes
// over more services than the bound holds, with a short and a long TTL:
// every read returns its own service's states, every write is read back by
// its writer, and the cache's books balance at the end (run with -race).
func TestStateCacheConcurrent(t *testing.T) {
	for _, ttl := range []time.Duration{2 * time.Millisecond, time.Minute} {
		t.Run("ttl="+ttl.String(), func(t *testing.T) {
			const (
				services   = 40
				goroutines = 8
				rounds     = 300
			)
			e, _, raw, ns := newCountingExecutor(t, WithStateCache(ttl), WithStateCacheMaxBytes(8<<10))
			ctx := testContext(t)
			now := time.Now()
			for s := range services {
				for pod := range 4 { // load s*100+pod: pod 0 is the least loaded
					if err := raw.HSet(ctx, stateKey(ns, "svc"+strconv.Itoa(s)), strconv.Itoa(pod), FormatPodState(s*100+pod, now)).Err(); err != nil {
						t.Fatal(err)
					}
				}
			}
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					own := 50 + g // the pod this goroutine writes, in every service
					for i := range rounds {
						s := (i*7 + g*13) % services
						svc := "svc" + strconv.Itoa(s)
						switch i % 3 {
						case 0:
							states, err := e.GetServiceState(ctx, ns, svc)
							if err != nil {
								t.Error(err)
								return
							}
							for pod, state := range states {
								if load, _, err := ParsePodState(state); err != nil || load/100 != s {
									t.Errorf("%s pod %d: state %q is not this service's", svc, pod, state)
									return
								}
							}
						case 1:
							pod, err := e.ComputeLinkedPod(ctx, ns, fmt.Sprintf("u%d-%d", g, i), svc, time.Hour, 60)
							if err != nil || pod != 0 {
								t.Errorf("%s: ComputeLinkedPod = %d, %v; want pod 0, the least loaded", svc, pod, err)
								return
							}
						case 2:
							state := FormatPodState(s*100+own, now.Add(time.Duration(i)*time.Second))
							if err := e.SetServiceState(ctx, ns, svc, own, state); err != nil {
								t.Error(err)
								return
							}
							states, err := e.GetServiceState(ctx, ns, svc)
							if err != nil || states[own] != state {
								t.Errorf("%s: read after own write: pod %d = %q, %v; want %q", svc, own, states[own], err, state)
								return
							}
						}
					}
				})
			}
			wg.Wait()
			e.states.checkBooks(t)
		})
	}
}

// cached reports whether a service has an entry, for tests.
func (sc *stateCache) cached(namespace, serviceName string) bool {
	sh := sc.shardOf(namespace, serviceName)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.entries[nameKey{namespace, serviceName}] != nil
}

// checkBooks checks that the ring, the byte count and the shards' maps
// agree, once nothing runs.
func (sc *stateCache) checkBooks(t *testing.T) {
	t.Helper()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	ring, bytes := map[*stateEntry]bool{}, int64(0)
	if v := sc.hand; v != nil {
		for {
			if !v.linked || v.next.prev != v || ring[v] {
				t.Fatalf("the ring is broken at %v", v.key)
			}
			ring[v] = true
			want := v.base
			if s := v.val.Load(); s != nil {
				want += s.size
			}
			if v.bytes != want {
				t.Errorf("%v accounts %d bytes, holds %d", v.key, v.bytes, want)
			}
			bytes += v.bytes
			if v = v.next; v == sc.hand {
				break
			}
		}
	}
	if len(ring) != sc.n || bytes != sc.used || sc.used > sc.budget || sc.budget+doorBytes(len(sc.door)) != sc.maxBytes {
		t.Errorf("ring of %d entries and %d bytes; the cache counts %d and %d, budget %d of bound %d", len(ring), bytes, sc.n, sc.used, sc.budget, sc.maxBytes)
	}
	mapped := 0
	for i := range sc.shards {
		sh := &sc.shards[i]
		sh.mu.RLock()
		for k, en := range sh.entries {
			mapped++
			if !ring[en] || en.key != k || en.shard != sh {
				t.Errorf("%v is in a shard's map but not on the ring", k)
			}
		}
		sh.mu.RUnlock()
	}
	if mapped != len(ring) {
		t.Errorf("%d entries in the maps, %d on the ring", mapped, len(ring))
	}
}

// TestParsedStatesAgree: the states parsed once choose what choosePod
// chooses over the same states, count the same fields and states as left
// out, and give back every state as stored; so does the uncached pass over
// HGETALL's reply.
func TestParsedStatesAgree(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s, ms := now.Unix(), now.UnixMilli()
	beats := []string{
		strconv.FormatInt(s, 10), strconv.FormatInt(s-30, 10), strconv.FormatInt(s-31, 10), strconv.FormatInt(s+60, 10),
		strconv.FormatInt(s+61, 10), strconv.FormatInt(ms, 10), strconv.FormatInt(ms-30_000, 10), strconv.FormatInt(ms-30_001, 10),
		strconv.FormatInt(ms+60_000, 10), strconv.FormatInt(now.UnixMicro(), 10), "0", "99999999999", "100000000000",
		"", "x", "1-2", "99999999999999999999",
	}
	loads := []string{"0", "1", "3", "007", "9223372036854775807", "9223372036854775808", "", "-1", "+1", " 1"}
	fields := []string{"0", "1", "2", "7", "42", "2147483647", "2147483648", "01", "-1", "x", ""}
	rng := rand.New(rand.NewPCG(1, 2))
	chosen := 0
	for i := range 5000 {
		raw := map[string]string{}
		for range rng.IntN(12) {
			state := loads[rng.IntN(len(loads))] + "-" + beats[rng.IntN(len(beats))]
			if rng.IntN(20) == 0 {
				state = beats[rng.IntN(len(beats))] // no '-'
			}
			raw[fields[rng.IntN(len(fields))]] = state
		}
		alive := []time.Duration{time.Millisecond, 30 * time.Second, time.Hour, math.MaxInt64}[rng.IntN(4)]
		at := now.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)

		states, skippedFields := parseStateHash(raw)
		want, wantUnparsed := choosePod(states, at, alive)
		if ref := referenceChoice(states, at, alive); want != ref {
			t.Fatalf("case %d %v: choosePod chose %d, the rule written out %d", i, raw, want, ref)
		}
		p, err := parseStates(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.choose(chooserAt(at, alive)); got != want || p.unparsed != wantUnparsed || p.skipped != skippedFields {
			t.Fatalf("case %d %v: parsed chose %d (%d unparsed, %d skipped), choosePod %d (%d, %d)", i, raw, got, p.unparsed, p.skipped, want, wantUnparsed, skippedFields)
		}
		if got, skipped, unparsed := chooseRaw(chooserAt(at, alive), raw); got != want || unparsed != wantUnparsed || skipped != skippedFields {
			t.Fatalf("case %d %v: chooseRaw = %d, %d, %d; choosePod %d (%d unparsed, %d skipped)", i, raw, got, skipped, unparsed, want, wantUnparsed, skippedFields)
		}
		if got := p.states(); !maps.Equal(got, states) {
			t.Fatalf("case %d: states() = %v, want %v", i, got, states)
		}
		if want >= 0 {
			chosen++
		}
	}
	if chosen < 1000 || chosen > 4000 { // the cases must not all have the same answer
		t.Errorf("%d of 5000 cases had a live pod", chosen)
	}
}

// TestStateCacheHitAllocatesNothing: a state read served from the cache,
// and ComputeLinkedPod's choice over it, allocate nothing.
func TestStateCacheHitAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	e, _, raw, ns := newCountingExecutor(t, WithStateCache(time.Minute))
	ctx := testContext(t)
	if err := raw.HSet(ctx, stateKey(ns, "svc"), "1", FormatPodState(3, time.Now()), "2", FormatPodState(1, time.Now())).Err(); err != nil {
		t.Fatal(err)
	}
	must[*stateSnapshot](t)(e.states.get(ctx, ns, "svc"))
	var pod int
	n := testing.AllocsPerRun(1000, func() {
		s, err := e.states.get(ctx, ns, "svc")
		if err != nil {
			t.Fatal(err)
		}
		c := newChooser(time.Now(), time.Minute)
		pod = s.choose(&c)
	})
	if n != 0 || pod != 2 {
		t.Errorf("a hit and a choice: %.1f allocations, pod %d; want 0 and pod 2", n, pod)
	}
}

// referenceChoice is ComputeLinkedPod's rule written out plainly, without
// the chooser or liveness.live: the lowest load, then the lowest pod ID,
// among the states that parse with a heartbeat, in its unit, at or after
// now minus aliveWithin (whole seconds or milliseconds) and at most
// MaxHeartbeatSkew ahead.
func referenceChoice(states map[int]string, now time.Time, aliveWithin time.Duration) int {
	best, bestLoad := -1, 0
	for pod, state := range states {
		load, beat, ok := parseState(state)
		if !ok {
			continue
		}
		var live bool
		if beat >= heartbeatMillisFrom {
			ms := now.UnixMilli()
			live = beat >= ms-aliveWithin.Milliseconds() && beat <= ms+MaxHeartbeatSkew.Milliseconds()
		} else {
			s := now.Unix()
			live = beat >= s-int64(aliveWithin/time.Second) && beat <= s+int64(MaxHeartbeatSkew/time.Second)
		}
		if live && (best < 0 || load < bestLoad || load == bestLoad && pod < best) {
			best, bestLoad = pod, load
		}
	}
	return best
}
