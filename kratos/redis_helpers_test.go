package sfkratos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The tests talk to a real Redis: REDIS_ADDR, else 127.0.0.1:6379, else a
// redis-server from PATH started for this test binary. With none of them
// the tests skip, unless REDIS_REQUIRED=1 (CI), where they fail.
var (
	redisOnce  sync.Once
	redisFound string
	redisErr   error
	redisProc  *exec.Cmd
)

func redisAddr(t testing.TB) string {
	t.Helper()
	redisOnce.Do(findRedis)
	if redisErr != nil {
		if os.Getenv("REDIS_REQUIRED") == "1" {
			t.Fatalf("no Redis: %v", redisErr)
		}
		t.Skipf("no Redis (set REDIS_ADDR or start one on 127.0.0.1:6379): %v", redisErr)
	}
	return redisFound
}

func findRedis() {
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		redisFound, redisErr = addr, ping(addr)
		return
	}
	if ping("127.0.0.1:6379") == nil {
		redisFound = "127.0.0.1:6379"
		return
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		redisErr = fmt.Errorf("nothing on 127.0.0.1:6379 and no redis-server on PATH")
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		redisErr = err
		return
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	redisProc = exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
	if err := redisProc.Start(); err != nil {
		redisErr = err
		return
	}
	for range 100 {
		if ping(addr) == nil {
			redisFound = addr
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	redisErr = fmt.Errorf("redis-server on %s did not answer", addr)
}

func stopRedisServer() {
	if redisProc != nil && redisProc.Process != nil {
		redisProc.Process.Kill()
		redisProc.Wait()
	}
}

func ping(addr string) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer rdb.Close()
	return rdb.Ping(context.Background()).Err()
}

// testNamespace returns a namespace of its own for t, so tests sharing one
// Redis never see each other's keys, and deletes its keys when t ends.
func testNamespace(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	ns := "sfkratos-" + hex.EncodeToString(b)
	addr := redisAddr(t)
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer rdb.Close()
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, "sf:{"+ns+":*", 100).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return ns
}
