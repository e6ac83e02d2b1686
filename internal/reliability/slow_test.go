package reliability

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
)

const (
	slowDeadline = 150 * time.Millisecond
	slowSlack    = 250 * time.Millisecond
	slowPause    = 3 * time.Second // much longer than any deadline: only the deadline can end the call
)

// slowOps runs one operation of each kind (reads, writes, scripts, batches)
// and returns its name and error.
var slowOps = []struct {
	op  string
	run func(ctx context.Context, e *otelexec.Executor, ns string) error
	// write: a write whose reply the deadline cuts off; Redis runs it
	// when the pause ends, so its outcome is unknown, not failed.
	write bool
}{
	{contract.OpGetLinkedPod.String(), func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.GetLinkedPod(ctx, ns, "u1", "svc")
		return err
	}, false},
	{contract.OpSetLinkedPod.String(), func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.SetLinkedPod(ctx, ns, "u1", "svc", 1, -1)
		return err
	}, true},
	{contract.OpComputeLinkedPod.String(), func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.ComputeLinkedPod(ctx, ns, "u2", "svc", time.Minute, -1)
		return err
	}, false},
	{contract.OpBatchGetLinkedPod.String(), func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.BatchGetLinkedPod(ctx, ns, []string{"u1", "u2", "u3"}, "svc")
		return err
	}, false},
	{contract.OpGetServiceState.String(), func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.GetServiceState(ctx, ns, "svc")
		return err
	}, false},
	{contract.OpSetWorkloadState.String(), func(ctx context.Context, e *otelexec.Executor, ns string) error {
		return e.SetWorkloadState(ctx, ns, "svc", "busy")
	}, true},
}

// TestSlowRedisHonoursDeadlines pauses every client of a test-owned server
// (CLIENT PAUSE ALL) for longer than the callers' deadlines. Each operation
// must return a deadline error within its deadline plus a little slack; its
// span must end with status Error; the duration histogram must record at
// least the deadline; and once the pause is lifted, operations work again.
func TestSlowRedisHonoursDeadlines(t *testing.T) {
	// go-redis reads with Options.ReadTimeout (3 s by default) and ignores
	// the context's deadline unless ContextTimeoutEnabled is set; the
	// executor inherits that, so deadlines are a promise only for clients
	// made that way (docs/reliability.md).
	for _, cfg := range []struct {
		name string
		opt  redis.Options
	}{
		{"ContextTimeoutEnabled", redis.Options{ContextTimeoutEnabled: true}},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			srv := redistest.StartServer(t)
			opt := cfg.opt
			opt.Addr = srv.Addr
			rdb := redis.NewClient(&opt)
			t.Cleanup(func() { _ = rdb.Close() })
			admin := srv.Client(t)
			tel := newTelemetry(t)
			e := newExecutor(t, rdb, tel.options()...)
			ns := "rel.slow"
			ctx := context.Background()
			if err := e.SetServiceState(ctx, ns, "svc", 1, otelexec.FormatPodState(1, time.Now())); err != nil {
				t.Fatal(err)
			}
			tel.spans.Reset()

			if err := admin.Do(ctx, "CLIENT", "PAUSE", slowPause.Milliseconds(), "ALL").Err(); err != nil {
				t.Fatalf("CLIENT PAUSE: %v", err)
			}
			pausedAt := time.Now()
			for _, tc := range slowOps {
				start := time.Now()
				err := withTimeout(slowDeadline, func(ctx context.Context) error { return tc.run(ctx, e, ns) })
				elapsed := time.Since(start)
				if err == nil {
					t.Errorf("%s succeeded on a paused server", tc.op)
					continue
				}
				if !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
					t.Errorf("%s: error %v does not wrap the deadline or a timeout", tc.op, err)
				}
				if got := errors.Is(err, otelexec.ErrOutcomeUnknown); got != tc.write {
					t.Errorf("%s: errors.Is(err, ErrOutcomeUnknown) = %v, want %v: %v", tc.op, got, tc.write, err)
				}
				if elapsed > slowDeadline+slowSlack {
					t.Errorf("%s returned after %v, deadline %v (+%v slack)", tc.op, elapsed, slowDeadline, slowSlack)
				}
			}
			if time.Since(pausedAt) >= slowPause {
				t.Fatalf("the calls outlasted the %v pause; the test proves nothing", slowPause)
			}

			// Spans: one per operation, each with status Error and an error.type.
			ended := map[string]bool{}
			for _, s := range tel.spans.Ended() {
				ended[s.Name()] = true
				if s.Status().Code != codes.Error {
					t.Errorf("span %s status %v, want Error", s.Name(), s.Status().Code)
				}
				found := false
				for _, kv := range s.Attributes() {
					if kv.Key == semconv.ErrorTypeKey {
						found = true
					}
				}
				if !found {
					t.Errorf("span %s has no %s attribute", s.Name(), semconv.ErrorTypeKey)
				}
			}
			for _, tc := range slowOps {
				if !ended[tc.op] {
					t.Errorf("no ended span for %s", tc.op)
				}
			}

			// The duration histogram records the slowness: every failed
			// call lasted at least its deadline.
			rm := tel.collect(t)
			for _, tc := range slowOps {
				var count, sum float64
				for _, p := range points(rm) {
					if p.metric == contract.MetricOperationDuration && hasAll(p.attrs, []attribute.KeyValue{opAttr(tc.op)}) {
						count += p.value
						sum += p.sum
					}
				}
				if count != 1 {
					t.Errorf("%s: duration histogram count %v, want 1", tc.op, count)
					continue
				}
				if sum < 0.9*slowDeadline.Seconds() {
					t.Errorf("%s: duration histogram sum %.3fs, want >= the %v the call waited", tc.op, sum, slowDeadline)
				}
			}
			writes := 0
			for _, tc := range slowOps {
				if tc.write {
					writes++
				}
			}
			errs := byAttr(rm, contract.MetricErrors, contract.AttrErrorType)
			if errs[contract.ErrorTimeout.String()] != float64(len(slowOps)-writes) || errs[contract.ErrorOutcomeUnknown.String()] != float64(writes) {
				t.Errorf("errors by type %v, want %d timeout and %d outcome_unknown", errs, len(slowOps)-writes, writes)
			}

			// Lift the pause: operations work again.
			if err := admin.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
				t.Fatalf("CLIENT UNPAUSE: %v", err)
			}
			for _, tc := range slowOps {
				if err := withTimeout(2*time.Second, func(ctx context.Context) error { return tc.run(ctx, e, ns) }); err != nil {
					t.Errorf("%s after CLIENT UNPAUSE: %v", tc.op, err)
				}
			}
		})
	}
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}
