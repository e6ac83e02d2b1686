package reliability

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
)

// refusalDeadline bounds every call of the refusal tests; a call may come
// back refusalSlack later than it (2 shared cores, -race).
const (
	refusalDeadline = time.Second
	refusalSlack    = 300 * time.Millisecond
)

// callWithin runs one executor call with the refusal deadline and fails the
// test if it returns late.
func callWithin(t *testing.T, what string, run func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), refusalDeadline)
	defer cancel()
	start := time.Now()
	err := run(ctx)
	if took := time.Since(start); took > refusalDeadline+refusalSlack {
		t.Errorf("%s returned after %v, its deadline was %v", what, took, refusalDeadline)
	}
	return err
}

// TestServerRefusalsHaveTheirOwnClass: a Redis that refuses writes (out of
// memory under noeviction, a read-only replica), or refuses this client
// (ACL without the permission, a password set after the client connected),
// fails each call at once with an error of a class of its own, counted
// under that error_type, while the reads it still serves keep working.
func TestServerRefusalsHaveTheirOwnClass(t *testing.T) {
	write := func(e *otelexec.Executor) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := e.SetLinkedPod(ctx, "rel.refuse", "u", "game", 1, otelexec.PersistForever)
			return err
		}
	}
	read := func(e *otelexec.Executor) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := e.GetLinkedPod(ctx, "rel.refuse", "u", "game")
			return err
		}
	}
	for _, tc := range []struct {
		name string
		// setup returns the client the executor uses once the server refuses.
		setup     func(t *testing.T) *redis.Client
		want      contract.ErrorType
		readsWork bool
	}{
		{"oom", func(t *testing.T) *redis.Client {
			srv := redistest.StartServer(t, "--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
			admin := srv.Client(t)
			// Fill in ever smaller pieces until even a tiny write is refused.
			i := 0
			for _, size := range []int{64 << 10, 1 << 10, 16} {
				v := strings.Repeat("x", size)
				for ; ; i++ {
					if err := admin.Set(context.Background(), "fill:"+strconv.Itoa(i), v, 0).Err(); err != nil {
						if !redis.HasErrorPrefix(err, "OOM") {
							t.Fatalf("filling memory: %v", err)
						}
						break
					}
				}
			}
			return serverClient(t, srv.Addr, 4)
		}, contract.ErrorOOM, true},
		{"readonly replica", func(t *testing.T) *redis.Client {
			primary := redistest.StartServer(t)
			replica := redistest.StartServer(t, "--replicaof", "127.0.0.1", strconv.Itoa(primary.Port))
			return serverClient(t, replica.Addr, 4)
		}, contract.ErrorReadOnly, true},
		{"acl noperm", func(t *testing.T) *redis.Client {
			srv := redistest.StartServer(t)
			err := srv.Client(t).Do(context.Background(), "ACL", "SETUSER", "router", "on", ">pw", "~*", "&*", "+@all", "-evalsha", "-eval", "-script").Err()
			if err != nil {
				t.Fatal(err)
			}
			c := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "router", Password: "pw", ContextTimeoutEnabled: true})
			t.Cleanup(func() { _ = c.Close() })
			return c
		}, contract.ErrorAuth, true},
		{"requirepass then client kill", func(t *testing.T) *redis.Client {
			srv := redistest.StartServer(t)
			c := serverClient(t, srv.Addr, 4)
			if err := c.Ping(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
			admin := srv.Client(t)
			ctx := context.Background()
			if err := admin.ConfigSet(ctx, "requirepass", "secret").Err(); err != nil {
				t.Fatal(err)
			}
			if err := admin.Do(ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Err(); err != nil {
				t.Fatal(err)
			}
			return c
		}, contract.ErrorAuth, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.setup(t)
			tel := newTelemetry(t)
			e := newExecutor(t, c, tel.options()...)
			err := callWithin(t, "SetLinkedPod", write(e))
			if got := contract.Classify(err); got != tc.want {
				t.Fatalf("SetLinkedPod: %v, class %q, want %q", err, got, tc.want)
			}
			if errors.Is(err, otelexec.ErrOutcomeUnknown) {
				t.Errorf("a refused write is reported as of unknown outcome: %v", err)
			}
			if err := callWithin(t, "GetLinkedPod", read(e)); (err == nil) != tc.readsWork {
				t.Errorf("GetLinkedPod while the server refuses writes: %v", err)
			}
			byType := byAttr(tel.collect(t), contract.MetricErrors, contract.AttrErrorType)
			if byType[tc.want.String()] < 1 {
				t.Errorf("errors by type %v, want %s counted", byType, tc.want)
			}
			if byType[contract.ErrorOther.String()] > 0 {
				t.Errorf("errors by type %v: a refusal fell into _OTHER", byType)
			}
		})
	}
}

// TestClientKillLoop kills every normal client connection every 10 ms while
// eight goroutines route users: no call outlives its deadline, every error
// is a connection fault or a write of unknown outcome (never a wrong
// result, which the invariant check below would see), and the executor
// works as soon as the killing stops.
func TestClientKillLoop(t *testing.T) {
	srv := redistest.StartServer(t)
	c := serverClient(t, srv.Addr, 16)
	tel := newTelemetry(t)
	e := startExecutor(t, c, tel.options()...)
	admin := srv.Client(t)

	stop := make(chan struct{})
	var kills atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				if admin.Do(context.Background(), "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Err() == nil {
					kills.Add(1)
				}
			}
		}
	}()

	var (
		wg       sync.WaitGroup
		calls    atomic.Int64
		failures atomic.Int64
		badClass atomic.Value
	)
	deadline := time.Now().Add(time.Second)
	for g := range 8 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				uid := "u" + strconv.Itoa(g) + "-" + strconv.Itoa(i%20)
				err := callWithin(t, "SetLinkedPod", func(ctx context.Context) error {
					_, err := e.SetLinkedPod(ctx, "rel.kill", uid, "game", g, otelexec.PersistForever)
					return err
				})
				calls.Add(1)
				if err == nil {
					continue
				}
				failures.Add(1)
				switch contract.Classify(err) {
				case contract.ErrorConnection, contract.ErrorOutcomeUnknown, contract.ErrorTimeout:
				default:
					badClass.Store(err.Error())
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	if kills.Load() == 0 || failures.Load() == 0 {
		t.Fatalf("%d kills, %d failed of %d calls: the fault did not happen", kills.Load(), failures.Load(), calls.Load())
	}
	if v := badClass.Load(); v != nil {
		t.Errorf("a CLIENT KILL caused an error outside connection/outcome_unknown/timeout: %v", v)
	}
	// Every user's link points at the pod its goroutine wrote: a write is
	// never run twice or misapplied, whatever the kills did.
	for g := range 8 {
		for i := range 20 {
			uid := "u" + strconv.Itoa(g) + "-" + strconv.Itoa(i)
			pod, err := callWithinValue(t, func(ctx context.Context) (int, error) { return e.GetLinkedPod(ctx, "rel.kill", uid, "game") })
			if err != nil {
				t.Fatalf("GetLinkedPod after the kills: %v", err)
			}
			if pod != -1 && pod != g {
				t.Errorf("%s links to %d, want %d or none", uid, pod, g)
			}
		}
	}
	t.Logf("%d calls, %d failed, %d kills", calls.Load(), failures.Load(), kills.Load())
}

func callWithinValue[T any](t *testing.T, run func(ctx context.Context) (T, error)) (T, error) {
	t.Helper()
	var v T
	err := callWithin(t, "call", func(ctx context.Context) error {
		var err error
		v, err = run(ctx)
		return err
	})
	return v, err
}
