package otelexec

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/redistest"
)

// newTestExecutor returns an executor on the shared test Redis, a plain
// client of the same Redis for raw checks, and a namespace of the test's own.
func newTestExecutor(t testing.TB, opts ...Option) (*Executor, *redis.Client, string) {
	t.Helper()
	rdb := redistest.Client(t)
	e, err := New(rdb, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e, redistest.Client(t), redistest.Namespace(t)
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// ttl returns the key's TTL: -1 for no TTL, -2 for no key.
func ttl(t testing.TB, c *redis.Client, key string) time.Duration {
	t.Helper()
	d, err := c.TTL(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// chooserAt is a chooser for the liveness window at now.
func chooserAt(now time.Time, aliveWithin time.Duration) *chooser {
	c := newChooser(now, aliveWithin)
	return &c
}

// choosePod picks the live pod with the lowest load, lowest pod ID on ties,
// or -1 when no pod is live, and says how many states it could not parse.
// Live is the Java executor's rule (livenessAt): a heartbeat no older than
// aliveWithin, counted in whole seconds or milliseconds, the boundary
// included, and no more than MaxHeartbeatSkew ahead. It is the rule over
// states as GetServiceState returns them; the executor itself chooses over
// parsedStates or a raw HGETALL reply (choosePodOf), by the same chooser.
func choosePod(states map[int]string, now time.Time, aliveWithin time.Duration) (chosen, unparsed int) {
	c := newChooser(now, aliveWithin)
	for pod, state := range states {
		load, beat, ok := parseState(state)
		if !ok {
			unparsed++
			continue
		}
		c.offer(pod, int64(load), beat)
	}
	return c.pod, unparsed
}

// linkKeys are the KEYS of a link script: the user's link hash and link key.
func linkKeys(namespace, uid, serviceName string) []string {
	return []string{linkHashKey(namespace, uid), linkKey(namespace, uid, serviceName)}
}

// len is the number of entries kept, for tests.
func (c *cache[V, X]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// size is the bytes the cache accounts, its entries' and its admission
// table's, for tests and benchmarks.
func (c *cache[V, X]) size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used + doorBytes(len(c.door))
}
