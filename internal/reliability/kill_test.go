package reliability

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/redisinstr"
)

// connectionStatus is the status whose connection status gauge is 1, or "".
func connectionStatus(tb testing.TB, tel *telemetry) string {
	tb.Helper()
	for st, v := range byAttr(tel.collect(tb), contract.MetricConnectionStatus, contract.AttrStatus) {
		if v == 1 {
			return st
		}
	}
	return ""
}

// waitStatus waits until the connection status gauge reports want and
// returns how long that took; it fails the test after timeout.
func waitStatus(tb testing.TB, tel *telemetry, want string, timeout time.Duration) time.Duration {
	tb.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		if connectionStatus(tb, tel) == want {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Errorf("connection status did not become %q within %v", want, timeout)
	return timeout
}

// Load shape of the kill test: 50 workers, each op bounded by opTimeout, the
// whole run bounded by phase lengths and by maxOpsPerWorker.
const (
	killWorkers     = 50
	killOpTimeout   = time.Second
	killSlack       = 400 * time.Millisecond // scheduling slack on 2 shared cores under -race
	maxOpsPerWorker = 4000
	killRecoverMax  = 2 * time.Second
)

// isFaultCause reports whether err wraps what a dead or dying server causes:
// a network error, a closed connection, or the caller's deadline.
func isFaultCause(err error) bool {
	var netErr net.Error
	var opErr *net.OpError
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) ||
		errors.As(err, &opErr) || errors.As(err, &netErr)
}

// TestRedisKilledUnderLoad kills a persistent (AOF, fsync always) server in the
// middle of a 50-goroutine load and starts it again. It asserts that callers
// get errors wrapping the cause within their deadline, that the errors metric
// counts exactly the failures callers saw with a fault error_type, that no
// goroutine leaks, that operations recover within 2 s of the restart, and that
// every link acknowledged before the crash is still there afterwards.
func TestRedisKilledUnderLoad(t *testing.T) {
	srv := redistest.StartServer(t, "--appendonly", "yes", "--appendfsync", "always")
	goroutinesBefore := runtime.NumGoroutine()

	tel := newTelemetry(t)
	rdb := serverClient(t, srv.Addr, killWorkers)
	exec := newExecutor(t, rdb, tel.options()...)
	inst, err := redisinstr.Instrument(rdb, redisinstr.WithMeterProvider(tel.mp), redisinstr.WithTracerProvider(tel.tp),
		redisinstr.WithProbeInterval(200*time.Millisecond))
	if err != nil {
		t.Fatalf("redisinstr.Instrument: %v", err)
	}
	ns := "rel.kill"
	const svc = "game"

	var (
		phase       atomic.Int32 // 0 healthy, 1 killed, 2 restarted
		restartedAt atomic.Int64 // unix nanos when Start returned
		opsTotal    atomic.Int64
		errsTotal   atomic.Int64
		lateOps     atomic.Int64
		badCause    atomic.Int64
		mu          sync.Mutex
		acked       = map[string]int{} // uid → pod of each acknowledged persistent link
		firstErrs   []string
		recoverMax  time.Duration
		recovered   int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < killWorkers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			workerRecovered := false
			for i := 0; i < maxOpsPerWorker; i++ {
				select {
				case <-stop:
					return
				default:
				}
				uid := fmt.Sprintf("u%d:%d", w, i)
				pod := (w*maxOpsPerWorker + i) % 1000
				seenPhase := phase.Load()
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), killOpTimeout)
				var err error
				if i%4 == 3 {
					_, err = exec.GetLinkedPod(ctx, ns, fmt.Sprintf("u%d:%d", w, i-1), svc)
				} else {
					_, err = exec.SetLinkedPod(ctx, ns, uid, svc, pod, -1)
				}
				cancel()
				elapsed := time.Since(start)
				opsTotal.Add(1)
				if elapsed > killOpTimeout+killSlack {
					lateOps.Add(1)
				}
				if err != nil {
					errsTotal.Add(1)
					if errors.Is(err, otelexec.ErrInvalidArgument) || !isFaultCause(err) {
						badCause.Add(1)
						mu.Lock()
						if len(firstErrs) < 5 {
							firstErrs = append(firstErrs, fmt.Sprintf("%T: %v", err, err))
						}
						mu.Unlock()
					}
					if seenPhase == 0 && phase.Load() == 0 && !errors.Is(err, context.DeadlineExceeded) {
						// A failure while the server is healthy is a bug, not a
						// fault; a deadline can pass on 2 shared cores under -race.
						mu.Lock()
						firstErrs = append(firstErrs, "healthy-phase error: "+err.Error())
						mu.Unlock()
						badCause.Add(1)
					}
					time.Sleep(5 * time.Millisecond) // a real caller backs off too
					continue
				}
				if i%4 != 3 {
					mu.Lock()
					acked[uid] = pod
					mu.Unlock()
				}
				if seenPhase == 2 && !workerRecovered {
					workerRecovered = true
					d := time.Since(time.Unix(0, restartedAt.Load()))
					mu.Lock()
					recovered++
					if d > recoverMax {
						recoverMax = d
					}
					mu.Unlock()
				}
			}
		}(w)
	}

	time.Sleep(time.Second)
	ackedBeforeKill := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }()
	// The probe's PING has 200 ms; on 2 busy cores under -race one may miss
	// it while Redis is healthy, so wait for up rather than read it once.
	waitStatus(t, tel, contract.StatusUp, 3*time.Second)
	phase.Store(1) // before the kill, so an error seen in phase 0 is a real one
	srv.Kill()
	killedAt := time.Now()
	downAfter := waitStatus(t, tel, contract.StatusDown, 3*time.Second)
	// Dead for longer than a call's deadline: calls started early in the outage
	// cannot be rescued by go-redis's dial retries.
	time.Sleep(time.Until(killedAt.Add(killOpTimeout + 500*time.Millisecond)))
	if err := srv.Start(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	restartedAt.Store(time.Now().UnixNano())
	phase.Store(2)
	upAfter := waitStatus(t, tel, contract.StatusUp, 3*time.Second)
	t.Logf("connection status down %v after the kill, up %v after the restart", downAfter, upAfter)
	time.Sleep(time.Until(time.Unix(0, restartedAt.Load()).Add(killRecoverMax + 500*time.Millisecond)))
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("ops=%d errors=%d acked links=%d (before kill %d) slowest recovery after restart=%v",
		opsTotal.Load(), errsTotal.Load(), len(acked), ackedBeforeKill, recoverMax)
	if errsTotal.Load() == 0 {
		t.Fatal("no operation failed while the server was dead: the fault was not injected")
	}
	if n := badCause.Load(); n > 0 {
		t.Errorf("%d errors did not wrap a network or deadline cause (or came while healthy); first: %q", n, firstErrs)
	}
	if n := lateOps.Load(); n > 0 {
		t.Errorf("%d operations returned later than their %v deadline + %v", n, killOpTimeout, killSlack)
	}
	if recoverMax > killRecoverMax {
		t.Errorf("a worker needed %v after the restart to succeed again, want <= %v", recoverMax, killRecoverMax)
	}
	if recovered != killWorkers {
		t.Errorf("%d of %d workers succeeded after the restart", recovered, killWorkers)
	}

	// The errors metric counts exactly what callers saw, with fault types only.
	rm := tel.collect(t)
	byType := byAttr(rm, contract.MetricErrors, contract.AttrErrorType)
	var counted float64
	for typ, n := range byType {
		counted += n
		// A write in flight when the server died lost its reply: its
		// outcome is unknown (the append-only file may hold it).
		if typ != contract.ErrorConnection.String() && typ != contract.ErrorTimeout.String() && typ != contract.ErrorOutcomeUnknown.String() {
			t.Errorf("errors{error_type=%q} = %v; a dead server should only cause connection, timeout and outcome_unknown errors", typ, n)
		}
	}
	if counted != float64(errsTotal.Load()) {
		t.Errorf("errors metric counts %v failures, callers saw %d (by type %v)", counted, errsTotal.Load(), byType)
	}
	t.Logf("errors by type: %v", byType)

	// Nothing acknowledged is lost: every acked link reads back with its pod
	// (BatchGetLinkedPod) and is still in the user's hash, i.e. persistent.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lost := checkLinks(ctx, t, exec, rdb, ns, svc, acked)
	if lost > 0 {
		t.Errorf("%d of %d acknowledged links lost", lost, len(acked))
	}
	if len(acked) == 0 {
		t.Error("no link was acknowledged")
	}

	// No goroutine outlives the load once the client is closed.
	if err := exec.Close(); err != nil {
		t.Errorf("executor Close: %v", err)
	}
	if err := inst.Close(); err != nil {
		t.Errorf("redisinstr Close: %v", err)
	}
	_ = rdb.Close()
	settleGoroutines(t, goroutinesBefore, 5*time.Second)
}
