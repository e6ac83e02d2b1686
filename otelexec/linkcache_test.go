package otelexec

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"

	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/metrictest"
	"github.com/statefulroute/sfotel/internal/redistest"
)

// testStale is the maxStale of the link cache tests: short, so the fault
// tests are quick, and still four PINGs a lease.
const testStale = 100 * time.Millisecond

// newLinkExecutor returns an executor with a link cache over rdb, with a
// MeterProvider of its own so its counts are the test's alone.
func newLinkExecutor(t testing.TB, rdb redis.UniversalClient, opts ...Option) (*Executor, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	e, err := New(rdb, append([]Option{WithLinkCache(testStale), WithMeterProvider(mp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e, reader
}

// warm reads a link until the cache answers it, and checks the answer.
func warm(t testing.TB, e *Executor, ns, uid, svc string, want int) {
	t.Helper()
	ctx := testContext(t)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		before := e.links.hits.Load()
		pod, err := e.GetLinkedPod(ctx, ns, uid, svc)
		if err == nil && pod != want {
			t.Fatalf("GetLinkedPod = %d, want %d", pod, want)
		}
		if err == nil && e.links.hits.Load() > before {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the link cache never answered")
}

// seenAfter waits maxStale after a write was answered, then checks that
// every read returns the written pod: the bound WithLinkCache promises.
// Reads that fail (the server restarting) are retried.
func seenAfter(t testing.TB, e *Executor, ns, uid, svc string, want int) {
	t.Helper()
	time.Sleep(testStale)
	ctx := testContext(t)
	for i := 0; i < 20; {
		pod, err := e.GetLinkedPod(ctx, ns, uid, svc)
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if pod != want {
			t.Fatalf("%v after the write: GetLinkedPod = %d, want %d", testStale, pod, want)
		}
		i++
	}
}

func linkCounter(t testing.TB, r sdkmetric.Reader, name, reason string) int64 {
	t.Helper()
	m, ok := metrictest.Find(metrictest.Collect(t, r), ScopeName, name)
	if !ok {
		return 0
	}
	var n int64
	for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if v, _ := p.Attributes.Value(contract.AttrReason); reason == "" || v.AsString() == reason {
			n += p.Value
		}
	}
	return n
}

func TestLinkCacheServesAndReadsOwnWrites(t *testing.T) {
	e, reader := newLinkExecutor(t, redistest.Client(t))
	ctx, ns := testContext(t), redistest.Namespace(t)
	must[int](t)(e.SetLinkedPod(ctx, ns, "u", "svc", 3, PersistForever))
	warm(t, e, ns, "u", "svc", 3)
	for pod := range 50 {
		// Each own write is read back at once, from Redis or the cache.
		must[int](t)(e.SetLinkedPod(ctx, ns, "u", "svc", pod, PersistForever))
		if got := must[int](t)(e.GetLinkedPod(ctx, ns, "u", "svc")); got != pod {
			t.Fatalf("after SetLinkedPod(%d): GetLinkedPod = %d", pod, got)
		}
	}
	must[bool](t)(e.RemoveLinkedPod(ctx, ns, "u", "svc", -1))
	if got := must[int](t)(e.GetLinkedPod(ctx, ns, "u", "svc")); got != -1 {
		t.Fatalf("after RemoveLinkedPod: GetLinkedPod = %d", got)
	}
	warm(t, e, ns, "u", "svc", -1) // no link is cached too
	if h, m := linkCounter(t, reader, contract.MetricLinkCacheHits, ""), linkCounter(t, reader, contract.MetricLinkCacheMisses, ""); h < 2 || m < 2 {
		t.Fatalf("hits %d, misses %d exported", h, m)
	}
}

// TestLinkCacheStaleness measures how long after another client's write
// was answered a reader can still see the old pod, with readers warming the
// cache and two kinds of writer racing them: sfotel's SetLinkedPod (link
// key and hash field) and the Java layout's field-only HSET. Every sample
// must be within maxStale; the figures are logged. The readers spin on
// cache hits (spinning: with the prober, three goroutines that never block
// on two cores, so the goroutine that applies invalidations waits for the
// scheduler), or pause 100 µs between reads, as readers that wait for
// their own requests do (paced).
//
//	go test -count=1 -run TestLinkCacheStaleness -v ./otelexec/
func TestLinkCacheStaleness(t *testing.T) {
	for _, pause := range []time.Duration{0, 100 * time.Microsecond} {
		name := "paced"
		if pause == 0 {
			name = "spinning"
		}
		t.Run(name, func(t *testing.T) { testLinkCacheStaleness(t, pause) })
	}
}

func testLinkCacheStaleness(t *testing.T, pause time.Duration) {
	e, reader := newLinkExecutor(t, redistest.Client(t))
	writer, raw := must[*Executor](t)(New(redistest.Client(t))), redistest.Client(t)
	defer writer.Close()
	ctx, ns := testContext(t), redistest.Namespace(t)
	const users, writes = 16, 100
	pods := make([]int, users)
	for u := range users {
		must[int](t)(writer.SetLinkedPod(ctx, ns, "u"+strconv.Itoa(u), "svc", 0, PersistForever))
		warm(t, e, ns, "u"+strconv.Itoa(u), "svc", 0)
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 2 {
		readers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := e.GetLinkedPod(ctx, ns, "u"+strconv.Itoa(rng.IntN(users)), "svc"); err != nil {
					t.Error(err)
					return
				}
				if pause > 0 {
					time.Sleep(pause)
				}
			}
		})
	}
	hits0 := e.links.hits.Load()
	stale := make([]time.Duration, 0, writes) // start of the last read of the old pod
	seen := make([]time.Duration, 0, writes)  // start of the first read of the new one
	for i := range writes {
		u := i % users
		uid := "u" + strconv.Itoa(u)
		pods[u] = (pods[u] + 1) % 16
		if i%2 == 0 {
			must[int](t)(writer.SetLinkedPod(ctx, ns, uid, "svc", pods[u], PersistForever))
		} else if err := raw.HSet(ctx, linkHashKey(ns, uid), "svc", pods[u]).Err(); err != nil {
			t.Fatal(err)
		}
		answered := time.Now()
		var last time.Time // start of the last read that saw the old pod
		for {
			start := time.Now()
			pod := must[int](t)(e.GetLinkedPod(ctx, ns, uid, "svc"))
			if pod == pods[u] {
				seen = append(seen, start.Sub(answered))
				break
			}
			last = start
			if pause > 0 {
				time.Sleep(pause)
			}
			if start.Sub(answered) > 5*time.Second {
				t.Fatalf("write %d never seen", i)
			}
		}
		if last.IsZero() {
			stale = append(stale, 0)
		} else {
			stale = append(stale, last.Sub(answered))
		}
		time.Sleep(time.Millisecond) // let the readers warm the entry again
	}
	close(stop)
	readers.Wait()
	slices.Sort(stale)
	slices.Sort(seen)
	n := 0
	for _, d := range stale {
		if d > 0 {
			n++
		}
	}
	t.Logf("after a write was answered, over %d writes (%d with a stale read): last read of the old pod p50 %v, p99 %v, max %v (bound %v); first read of the new p50 %v, p99 %v, max %v; cache hits meanwhile %d, invalidations %d",
		writes, n, stale[len(stale)/2], stale[len(stale)*99/100], stale[len(stale)-1], testStale,
		seen[len(seen)/2], seen[len(seen)*99/100], seen[len(seen)-1],
		e.links.hits.Load()-hits0, linkCounter(t, reader, contract.MetricLinkCacheInvalid, "key"))
	if max := stale[len(stale)-1]; max > testStale {
		t.Fatalf("a read saw the old pod %v after the write was answered, over the bound %v", max, testStale)
	}
	if e.links.hits.Load()-hits0 < writes {
		t.Fatalf("only %d hits while measuring: the cache was not serving", e.links.hits.Load()-hits0)
	}
}

// trackingIDs are the CLIENT IDs of the link caches' tracking connections.
func trackingIDs(t testing.TB, c *redis.Client) []string {
	t.Helper()
	list := must[string](t)(c.ClientList(context.Background()).Result())
	var ids []string
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "name="+trackName+" ") {
			id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
			ids = append(ids, id)
		}
	}
	return ids
}

// faultSetup is a test-owned server with a cached executor on it, a link
// warm in the cache, and a raw client to write behind the executor's back.
func faultSetup(t *testing.T, addr func(*redistest.Server) string) (*redistest.Server, *Executor, *sdkmetric.ManualReader, *redis.Client, string) {
	srv := redistest.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr(srv), ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	e, reader := newLinkExecutor(t, rdb)
	raw := srv.Client(t)
	ns := redistest.Namespace(t)
	if err := raw.HSet(context.Background(), linkHashKey(ns, "u"), "svc", 1).Err(); err != nil {
		t.Fatal(err)
	}
	warm(t, e, ns, "u", "svc", 1)
	return srv, e, reader, raw, ns
}

func direct(s *redistest.Server) string { return s.Addr }

// afterFault writes behind the executor's back once its tracking is gone,
// checks the write is seen within the bound, then that the cache is back:
// it serves again, and a later write is seen through an invalidation.
func afterFault(t *testing.T, e *Executor, reader sdkmetric.Reader, raw *redis.Client, ns string) {
	ctx := testContext(t)
	if err := raw.HSet(ctx, linkHashKey(ns, "u"), "svc", 2).Err(); err != nil {
		t.Fatal(err)
	}
	seenAfter(t, e, ns, "u", "svc", 2)
	warm(t, e, ns, "u", "svc", 2)
	if err := raw.HSet(ctx, linkHashKey(ns, "u"), "svc", 3).Err(); err != nil {
		t.Fatal(err)
	}
	seenAfter(t, e, ns, "u", "svc", 3)
	if n := linkCounter(t, reader, contract.MetricLinkCacheInvalid, "lost"); n == 0 {
		t.Fatal("no invalidation for the lost connection exported")
	}
}

func TestLinkCacheClientKill(t *testing.T) {
	srv, e, reader, raw, ns := faultSetup(t, direct)
	ids := trackingIDs(t, raw)
	if len(ids) != 1 {
		t.Fatalf("%d tracking connections, want 1", len(ids))
	}
	if err := raw.Do(testContext(t), "client", "kill", "id", ids[0]).Err(); err != nil {
		t.Fatal(err)
	}
	afterFault(t, e, reader, raw, ns)
	_ = srv
}

func TestLinkCacheProxyCut(t *testing.T) {
	var p *redistest.Proxy
	_, e, reader, raw, ns := faultSetup(t, func(s *redistest.Server) string {
		p = redistest.StartProxy(t, s.Addr)
		return p.Addr
	})
	must[int64](t)(raw.HSet(testContext(t), linkHashKey(ns, "v"), "svc", 1).Result())
	warm(t, e, ns, "v", "svc", 1) // an entry the cut must flush: "u"'s goes with the first write
	p.DropReplyTo(trackName)      // the next lease PING: the connection is cut after the server ran it
	afterFault(t, e, reader, raw, ns)
	if p.Dropped() == 0 {
		t.Fatal("the proxy cut nothing")
	}
}

// TestLinkCacheSlowTracking delays everything the proxy passes, the
// invalidations too, well past maxStale: the lease stops the cache from
// serving, so the write is still seen within the bound.
func TestLinkCacheSlowTracking(t *testing.T) {
	var p *redistest.Proxy
	_, e, _, raw, ns := faultSetup(t, func(s *redistest.Server) string {
		p = redistest.StartProxy(t, s.Addr)
		return p.Addr
	})
	p.Delay(4 * testStale)
	ctx := testContext(t)
	if err := raw.HSet(ctx, linkHashKey(ns, "u"), "svc", 2).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(testStale)
	hits := e.links.hits.Load()
	if pod := must[int](t)(e.GetLinkedPod(ctx, ns, "u", "svc")); pod != 2 {
		t.Fatalf("GetLinkedPod = %d, want 2", pod)
	}
	if e.links.hits.Load() != hits {
		t.Fatal("the cache served while its lease was older than maxStale")
	}
	p.Delay(0)
	warm(t, e, ns, "u", "svc", 2)
}

// TestLinkCacheStalledTracking delays the tracking connection past
// max(4×maxStale, 1 s) with nothing lost: it is closed as stalled, the
// cache is flushed, and it caches again once the network is back.
func TestLinkCacheStalledTracking(t *testing.T) {
	var p *redistest.Proxy
	_, e, reader, _, ns := faultSetup(t, func(s *redistest.Server) string {
		p = redistest.StartProxy(t, s.Addr)
		return p.Addr
	})
	p.Delay(3 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for linkCounter(t, reader, contract.MetricLinkCacheInvalid, "lost") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a stalled tracking connection was not dropped")
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.Delay(0)
	warm(t, e, ns, "u", "svc", 1)
}

func TestLinkCacheServerRestart(t *testing.T) {
	srv, e, reader, raw, ns := faultSetup(t, direct)
	srv.Kill()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	afterFault(t, e, reader, raw, ns) // the new server is empty: only the writes made since
}

func TestLinkCacheFlushAll(t *testing.T) {
	_, e, reader, raw, ns := faultSetup(t, direct)
	if err := raw.FlushAll(testContext(t)).Err(); err != nil {
		t.Fatal(err)
	}
	seenAfter(t, e, ns, "u", "svc", -1)
	if n := linkCounter(t, reader, contract.MetricLinkCacheInvalid, "flush"); n == 0 {
		t.Fatal("no flush invalidation exported")
	}
}

func TestLinkCacheTemporaryLinkExpires(t *testing.T) {
	e, _ := newLinkExecutor(t, redistest.Client(t))
	ctx, ns := testContext(t), redistest.Namespace(t)
	must[int](t)(e.SetLinkedPod(ctx, ns, "u", "svc", 4, 1))
	warm(t, e, ns, "u", "svc", 4)
	var links userLinks
	if en := e.links.lookup(e.links.shardOf(ns, "u"), ns, "u"); en != nil && en.val.Load() != nil {
		links = *en.val.Load()
	}
	if len(links) != 1 || links[0].expires == 0 {
		t.Fatalf("temporary link cached without its TTL: %+v", links)
	}
}

func TestLinkCacheMemoryBound(t *testing.T) {
	const maxBytes = cacheShards * 1024
	e, reader := newLinkExecutor(t, redistest.Client(t), WithLinkCacheMaxBytes(maxBytes))
	ctx, ns := testContext(t), redistest.Namespace(t)
	warm(t, e, ns, "u0", "svc", -1)
	for u := range 3000 {
		must[int](t)(e.GetLinkedPod(ctx, ns, "u"+strconv.Itoa(u), "svc"))
	}
	bytes, entries := e.links.size(), e.links.len()
	if bytes > maxBytes || entries == 0 {
		t.Fatalf("%d bytes in %d entries, bound %d", bytes, entries, maxBytes)
	}
	if n := linkCounter(t, reader, contract.MetricLinkCacheEvictions, ""); n == 0 {
		t.Fatal("no evictions exported")
	}
}

func TestLinkCacheOptions(t *testing.T) {
	rdb := redistest.Client(t)
	for _, opts := range [][]Option{
		{WithLinkCache(time.Millisecond)},
		{WithLinkCache(time.Second), WithLinkCacheMaxBytes(0)},
	} {
		if _, err := New(rdb, opts...); err == nil || !strings.Contains(err.Error(), "WithLinkCache") {
			t.Errorf("New: %v, want an error naming the option", err)
		}
	}
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer cluster.Close()
	_, err := New(cluster, WithLinkCache(time.Second))
	var ae *ArgumentError
	if !errors.As(err, &ae) || ae.Field != "WithLinkCache" {
		t.Fatalf("New(ClusterClient, WithLinkCache): %v, want an ArgumentError for WithLinkCache", err)
	}
	e := must[*Executor](t)(New(rdb, WithLinkCache(0)))
	if e.links != nil {
		t.Fatal("WithLinkCache(0) made a cache")
	}
}

func TestParseLinkUser(t *testing.T) {
	for key, want := range map[string]nameKey{
		linkHashKey("ns", "a:b"):  {"ns", "a:b"},
		linkKey("ns", "u", "svc"): {"ns", "u"},
		stateKey("ns", "svc"):     {},
		"other":                   {},
		"sf:{ns:lk:unterminated":  {},
		"sf:{a:b:lk:u}":           {},
	} {
		got, ok := parseLinkUser(key)
		if ok != (want != nameKey{}) || ok && got != want {
			t.Errorf("parseLinkUser(%q) = %v, %v", key, got, ok)
		}
	}
}

func TestLinkCacheBatch(t *testing.T) {
	e, _ := newLinkExecutor(t, redistest.Client(t))
	ctx, ns := testContext(t), redistest.Namespace(t)
	uids := []string{"a", "b", "c", "a"}
	must[int](t)(e.SetLinkedPod(ctx, ns, "a", "svc", 1, PersistForever))
	must[int](t)(e.SetLinkedPod(ctx, ns, "b", "svc", 2, PersistForever))
	warm(t, e, ns, "a", "svc", 1)
	want := map[int][]string{1: {"a", "a"}, 2: {"b"}}
	check := func() {
		t.Helper()
		got := must[map[int][]string](t)(e.BatchGetLinkedPod(ctx, ns, uids, "svc"))
		if len(got) != len(want) || !slices.Equal(got[1], want[1]) || !slices.Equal(got[2], want[2]) {
			t.Fatalf("BatchGetLinkedPod = %v, want %v", got, want)
		}
	}
	hits := e.links.hits.Load()
	check() // "b" and "c" not cached: read from Redis
	if e.links.hits.Load() != hits {
		t.Fatal("a batch with uncached uids counted hits")
	}
	warm(t, e, ns, "b", "svc", 2)
	warm(t, e, ns, "c", "svc", -1)
	hits = e.links.hits.Load()
	check()
	if got := e.links.hits.Load() - hits; got != uint64(len(uids)) {
		t.Fatalf("%d hits, want the whole batch's", got)
	}
}

// TestLinkCacheHitAllocatesNothing: a lookup the cache answers allocates
// nothing.
func TestLinkCacheHitAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	e, _ := newLinkExecutor(t, redistest.Client(t))
	ctx, ns := testContext(t), redistest.Namespace(t)
	must[int](t)(e.SetLinkedPod(ctx, ns, "u", "svc", 5, PersistForever))
	warm(t, e, ns, "u", "svc", 5)
	var pod int
	hits := e.links.hits.Load()
	n := testing.AllocsPerRun(1000, func() { pod, _ = e.links.get(ns, "u", "svc") })
	if n != 0 || pod != 5 || e.links.hits.Load()-hits < 1000 {
		t.Errorf("a hit: %.1f allocations, pod %d, %d hits; want 0, pod 5, every call a hit", n, pod, e.links.hits.Load()-hits)
	}
}
