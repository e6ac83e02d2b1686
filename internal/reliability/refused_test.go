package reliability

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
)

// everyOp is every operation of the executor, with arguments it accepts.
var everyOp = []struct {
	op  contract.Op
	run func(ctx context.Context, e *otelexec.Executor, ns string) error
}{
	{contract.OpSetServiceState, func(ctx context.Context, e *otelexec.Executor, ns string) error {
		return e.SetServiceState(ctx, ns, "svc", 1, otelexec.FormatPodState(1, time.Now()))
	}},
	{contract.OpGetServiceState, func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.GetServiceState(ctx, ns, "svc")
		return err
	}},
	{contract.OpSetWorkloadState, func(ctx context.Context, e *otelexec.Executor, ns string) error {
		return e.SetWorkloadState(ctx, ns, "svc", "busy")
	}},
	{contract.OpGetWorkloadState, func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.GetWorkloadState(ctx, ns, "svc")
		return err
	}},
	{contract.OpGetWorkloadStateBatch, func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.GetWorkloadStateBatch(ctx, ns, []string{"svc", "other"})
		return err
	}},
	{contract.OpSetLinkedPod, func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.SetLinkedPod(ctx, ns, "u1", "svc", 1, otelexec.PersistForever)
		return err
	}},
	{contract.OpTrySetLinkedPod, func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, _, err := e.TrySetLinkedPod(ctx, ns, "u2", "svc", 1, otelexec.PersistForever)
		return err
	}},
	{contract.OpSetLinkedPodIfAbsent, func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.SetLinkedPodIfAbsent(ctx, ns, "u3", "svc", 1, otelexec.PersistForever)
		return err
	}},
	{contract.OpGetLinkedPod, func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.GetLinkedPod(ctx, ns, "u1", "svc")
		return err
	}},
	{contract.OpGetLinkedPodIfPersist, func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.GetLinkedPodIfPersist(ctx, ns, "u1", "svc")
		return err
	}},
	{contract.OpBatchGetLinkedPod, func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.BatchGetLinkedPod(ctx, ns, []string{"u1", "u2"}, "svc")
		return err
	}},
	{contract.OpRemoveLinkedPod, func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.RemoveLinkedPod(ctx, ns, "u4", "svc", otelexec.PersistForever)
		return err
	}},
	{contract.OpRemoveLinkedPodWithID, func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.RemoveLinkedPodWithID(ctx, ns, "u5", "svc", 1, otelexec.PersistForever)
		return err
	}},
	{contract.OpGetLinkService, func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.GetLinkService(ctx, ns, "u1")
		return err
	}},
	{contract.OpComputeLinkedPod, func(ctx context.Context, e *otelexec.Executor, ns string) error {
		_, err := e.ComputeLinkedPod(ctx, ns, "u6", "svc", time.Minute, otelexec.PersistForever)
		return err
	}},
	{contract.OpLoadScripts, func(ctx context.Context, e *otelexec.Executor, _ string) error {
		return e.LoadScripts(ctx)
	}},
}

// TestEveryOpCovered: everyOp lists every operation.
func TestEveryOpCovered(t *testing.T) {
	if len(everyOp) != int(contract.NumOps) {
		t.Fatalf("everyOp has %d operations, the executor %d", len(everyOp), contract.NumOps)
	}
}

// TestRefusedConnectionFailsFast: with nothing listening on Redis's port,
// every operation fails with class connection after the client's own dial
// attempts, whatever time its deadline leaves: a router sheds its load
// instead of holding each request for its whole deadline. go-redis dials
// DialerRetries times before a dial fails (5, 100 ms apart, by default),
// a pipeline on both of its pools; it then resends the command or the
// pipeline MaxRetries times (3), each time dialling again, so a pipelined
// read took 40 dials and 3.3 s: the caller's whole deadline, reported as a
// timeout. The executor does not dial again after a failed dial.
func TestRefusedConnectionFailsFast(t *testing.T) {
	port, err := redistest.FreePort() // reserved, then closed: nothing listens
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for _, tc := range []struct {
		name          string
		dialerRetries int // go-redis's default is 5
		deadlines     []time.Duration
		maxDials      int64
		within        time.Duration // the dials' backoff and the slack of a loaded machine
	}{
		// 2 × 5 dials 100 ms apart for a pipeline: 0.8 s, too close to a 1 s
		// deadline on a loaded machine.
		{"go-redis defaults", 0, []time.Duration{3 * time.Second}, 10, 1200 * time.Millisecond},
		{"DialerRetries=1", 1, []time.Duration{time.Second, 3 * time.Second}, 2, 150 * time.Millisecond},
	} {
		for _, deadline := range tc.deadlines {
			t.Run(tc.name+"/deadline="+deadline.String(), func(t *testing.T) {
				var dials atomic.Int64
				rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, DialerRetries: tc.dialerRetries,
					Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
						dials.Add(1)
						return (&net.Dialer{}).DialContext(ctx, network, addr)
					}})
				t.Cleanup(func() { _ = rdb.Close() })
				e := newExecutor(t, rdb)
				var slowest time.Duration
				for _, o := range everyOp {
					dials.Store(0)
					start := time.Now()
					err := withTimeout(deadline, func(ctx context.Context) error { return o.run(ctx, e, "rel.refused") })
					took := time.Since(start)
					slowest = max(slowest, took)
					if got := contract.Classify(err); got != contract.ErrorConnection {
						t.Errorf("%s: %v, class %q after %v, want connection", o.op, err, got, took)
					}
					if took > tc.within {
						t.Errorf("%s took %v of its %v deadline, want at most %v", o.op, took, deadline, tc.within)
					}
					if n := dials.Load(); n > tc.maxDials {
						t.Errorf("%s dialled %d times, want at most %d", o.op, n, tc.maxDials)
					}
				}
				t.Logf("the slowest of %d operations failed after %v", len(everyOp), slowest)
			})
		}
	}
}
