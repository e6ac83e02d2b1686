package reliability

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
)

// proxiedClient is a client of srv through a fault proxy.
func proxiedClient(t *testing.T, srv *redistest.Server, maxRetries int) (*redis.Client, *redistest.Proxy) {
	t.Helper()
	p := redistest.StartProxy(t, srv.Addr)
	c := redis.NewClient(&redis.Options{Addr: p.Addr, MaxRetries: maxRetries, ContextTimeoutEnabled: true, PoolSize: 8})
	t.Cleanup(func() { _ = c.Close() })
	return c, p
}

// TestLostReplyNeverRunsTwice loses the reply to a link write after Redis
// ran it, the fault go-redis answers by sending the command again
// (MaxRetries, 3 by default). The second run of a link script sees the
// first run's link: SetLinkedPod(7) over a link to 3 would return previous
// 7, RemoveLinkedPod false although it removed the link. Whatever the
// client's MaxRetries, a write whose reply is lost must return its true
// result or an error wrapping ErrOutcomeUnknown, and must have run once.
func TestLostReplyNeverRunsTwice(t *testing.T) {
	srv := redistest.StartServer(t)
	admin := srv.Client(t)
	for _, retries := range []int{-1, 0, 10} { // none, go-redis's default (3), many
		t.Run("MaxRetries="+strconv.Itoa(retries), func(t *testing.T) {
			c, proxy := proxiedClient(t, srv, retries)
			e := startExecutor(t, c)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ns := "rel.lost" + strconv.Itoa(retries+1)
			const svc = "game"

			cases := []struct {
				name string
				uid  string
				run  func(uid string) (string, error) // the result, printed
				ok   string                           // the true result
			}{
				{"SetLinkedPod", "u1", func(uid string) (string, error) {
					prev, err := e.SetLinkedPod(ctx, ns, uid, svc, 7, otelexec.PersistForever)
					return strconv.Itoa(prev), err
				}, "3"},
				{"RemoveLinkedPod", "u2", func(uid string) (string, error) {
					ok, err := e.RemoveLinkedPod(ctx, ns, uid, svc, otelexec.PersistForever)
					return strconv.FormatBool(ok), err
				}, "true"},
				{"RemoveLinkedPodWithID", "u3", func(uid string) (string, error) {
					ok, err := e.RemoveLinkedPodWithID(ctx, ns, uid, svc, 3, otelexec.PersistForever)
					return strconv.FormatBool(ok), err
				}, "true"},
			}
			for _, tc := range cases {
				if _, err := e.SetLinkedPod(ctx, ns, tc.uid, svc, 3, otelexec.PersistForever); err != nil {
					t.Fatal(err)
				}
				proxy.DropReplyTo("evalsha")
				dropped := proxy.Dropped()
				got, err := tc.run(tc.uid)
				if proxy.Dropped() == dropped {
					t.Fatalf("%s: the proxy lost no reply; the fault did not happen", tc.name)
				}
				switch {
				case err == nil && got != tc.ok:
					t.Errorf("%s after a lost reply = %s, nil; want %s (the script ran twice)", tc.name, got, tc.ok)
				case err != nil && !errors.Is(err, otelexec.ErrOutcomeUnknown):
					t.Errorf("%s after a lost reply: %v, want an error wrapping ErrOutcomeUnknown", tc.name, err)
				case err != nil && otelexec.ErrorType(err) != "outcome_unknown":
					t.Errorf("%s: error type %q, want outcome_unknown", tc.name, otelexec.ErrorType(err))
				}
				// It ran exactly once: what Redis holds is the write's effect.
				link, err := admin.Get(ctx, "sf:{"+ns+":lk:"+tc.uid+"}"+svc).Result()
				want := map[string]string{"SetLinkedPod": "7"}[tc.name]
				if errors.Is(err, redis.Nil) {
					link, err = "", nil
				}
				if err != nil || link != want {
					t.Errorf("%s: the link holds %q (%v), want %q", tc.name, link, err, want)
				}
			}
		})
	}
}

// TestLostReadReplyIsRetried: a read is safe to send again, so a lost reply
// costs the caller nothing when the client allows retries.
func TestLostReadReplyIsRetried(t *testing.T) {
	srv := redistest.StartServer(t)
	c, proxy := proxiedClient(t, srv, 3)
	e := startExecutor(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.SetLinkedPod(ctx, "rel.lostread", "u", "game", 4, otelexec.PersistForever); err != nil {
		t.Fatal(err)
	}
	proxy.DropReplyTo("*2\r\n$3\r\nget\r\n")
	pod, err := e.GetLinkedPod(ctx, "rel.lostread", "u", "game")
	if proxy.Dropped() == 0 {
		t.Fatal("the proxy lost no reply; the fault did not happen")
	}
	if err != nil || pod != 4 {
		t.Fatalf("GetLinkedPod after a lost reply = %d, %v; want 4, nil (a read is retried)", pod, err)
	}
}

// TestStalledReloadKeepsDeadlines flushes the script cache and stalls the
// reload (every SCRIPT LOAD held 3 s at the proxy, a slow node or a
// partition): callers that need the script wait for the reload only as
// long as their own deadline allows, and the reload is still sent once.
func TestStalledReloadKeepsDeadlines(t *testing.T) {
	srv := redistest.StartServer(t)
	c, proxy := proxiedClient(t, srv, 0)
	e := startExecutor(t, c)
	if err := srv.Client(t).ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	proxy.Hold("$6\r\nscript\r\n", 3*time.Second)
	proxy.Count("$4\r\nload\r\n")

	const (
		callers  = 4
		deadline = 200 * time.Millisecond
		slack    = 100 * time.Millisecond
	)
	var wg sync.WaitGroup
	took := make([]time.Duration, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			_, errs[i] = e.SetLinkedPod(ctx, "rel.stall", "u"+strconv.Itoa(i), "game", 1, otelexec.PersistForever)
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	for i := range callers {
		if took[i] > deadline+slack {
			t.Errorf("caller %d returned after %v with a %v deadline while the reload stalled", i, took[i], deadline)
		}
		if !errors.Is(errs[i], context.DeadlineExceeded) {
			t.Errorf("caller %d: %v, want its deadline", i, errs[i])
		}
	}
	if n := proxy.Seen(); n != 1 {
		t.Errorf("%d SCRIPT LOADs sent for %d callers, want 1", n, callers)
	}
}
