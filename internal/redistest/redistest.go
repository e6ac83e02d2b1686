package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

var (
	findOnce  sync.Once
	foundAddr string
	foundHow  string
	findErr   error
)

// Addr returns the address of a real Redis for the whole test binary, found as
// the package documentation says. It fails the test when REDIS_REQUIRED=1 and
// only the embedded server is left.
func Addr(tb testing.TB) string {
	tb.Helper()
	findOnce.Do(find)
	if findErr != nil {
		tb.Fatalf("redistest: %v", findErr)
	}
	if foundHow == "miniredis" {
		tb.Logf("redistest: no real Redis found (REDIS_ADDR unset, nothing on 127.0.0.1:6379, no redis-server on PATH); using embedded miniredis at %s", foundAddr)
	}
	return foundAddr
}

// Required reports whether REDIS_REQUIRED asks for a real Redis: tests that
// need a redis-server binary fail instead of skipping when it is set.
func Required() bool { return os.Getenv("REDIS_REQUIRED") == "1" }

func find() {
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		if err := ping(addr); err != nil {
			findErr = err
			return
		}
		foundAddr, foundHow = addr, "REDIS_ADDR"
		return
	}
	if ping("127.0.0.1:6379") == nil {
		foundAddr, foundHow = "127.0.0.1:6379", "default port"
		return
	}
	if _, err := exec.LookPath("redis-server"); err == nil {
		// The server outlives this call: it serves the whole test binary and
		// dies with it (see startProcess).
		s, err := startProcess(nil)
		if err == nil {
			foundAddr, foundHow = s.Addr, "redis-server"
			return
		}
	}
	if Required() {
		findErr = errRequired
		return
	}
	m, err := miniredis.Run()
	if err != nil {
		findErr = err
		return
	}
	foundAddr, foundHow = m.Addr(), "miniredis"
}

type requiredError struct{}

func (requiredError) Error() string {
	return "REDIS_REQUIRED=1 but no real Redis answers (REDIS_ADDR, 127.0.0.1:6379, redis-server on PATH)"
}

var errRequired error = requiredError{}

func ping(addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1, ContextTimeoutEnabled: true})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// Client returns a client of the Redis that Addr finds, closed when the test ends.
func Client(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: Addr(tb), ContextTimeoutEnabled: true})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Namespace returns a namespace of its own for the test, valid under the
// executor's rules, and deletes the keys of that namespace when the test ends,
// so tests sharing one Redis never see each other's keys.
func Namespace(tb testing.TB) string {
	tb.Helper()
	name := unsafeChars.ReplaceAllString(tb.Name(), "_")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	ns := "t." + name + "." + hex.EncodeToString(b[:])
	addr := Addr(tb)
	tb.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = DeleteNamespace(ctx, c, ns)
	})
	return ns
}

// Keys returns every key of namespace ns, on every master of a cluster.
// Tests use it to prove that a rejected call wrote nothing.
func Keys(ctx context.Context, c redis.UniversalClient, ns string) ([]string, error) {
	pattern := "sf:{" + ns + ":*"
	scan := func(ctx context.Context, node redis.UniversalClient) ([]string, error) {
		var keys []string
		iter := node.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		return keys, iter.Err()
	}
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return scan(ctx, c)
	}
	var (
		mu   sync.Mutex
		keys []string
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		local, err := scan(ctx, node)
		mu.Lock()
		keys = append(keys, local...)
		mu.Unlock()
		return err
	})
	return keys, err
}

// DeleteNamespace deletes every key of namespace ns.
func DeleteNamespace(ctx context.Context, c redis.UniversalClient, ns string) error {
	keys, err := Keys(ctx, c, ns)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := c.Del(ctx, k).Err(); err != nil {
			return err
		}
	}
	return nil
}
