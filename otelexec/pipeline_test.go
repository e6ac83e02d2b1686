package otelexec

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/metrictest"
	"github.com/statefulroute/sfotel/internal/redistest"
)

// forcePipelining makes a lone caller's commands autopipelined too, for
// the rest of the test, so that tests without concurrency take that path.
func forcePipelining(t *testing.T) {
	old := autoPipelineMinInFlight
	autoPipelineMinInFlight = 1
	t.Cleanup(func() { autoPipelineMinInFlight = old })
}

// batchCounter counts the pipelines and single commands a client sends.
type batchCounter struct {
	singles, batches, batched atomic.Int64
	largest                   atomic.Int64 // commands in the largest pipeline
}

func (*batchCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *batchCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.singles.Add(1)
		return next(ctx, cmd)
	}
}
func (h *batchCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.batches.Add(1)
		h.batched.Add(int64(len(cmds)))
		for n := h.largest.Load(); int64(len(cmds)) > n && !h.largest.CompareAndSwap(n, int64(len(cmds))); n = h.largest.Load() {
		}
		return next(ctx, cmds)
	}
}

// TestAutoPipelinedRouting routes users from 32 goroutines through an
// executor with the default options, so autopipelined, and through one with
// WithAutoPipelining(false): every result is right (each user keeps the pod
// it was given), the executor's telemetry counts every call, and concurrent
// commands share round trips by default only (a pipeline of the executor's
// own holds at most 3 commands: HGET, GET, HGETALL).
func TestAutoPipelinedRouting(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run("default="+strconv.FormatBool(on), func(t *testing.T) { testAutoPipelinedRouting(t, on) })
	}
}

func testAutoPipelinedRouting(t *testing.T, def bool) {
	rdb := redistest.Client(t)
	hook := &batchCounter{}
	rdb.AddHook(hook)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	opts := []Option{WithMeterProvider(mp)}
	if !def {
		opts = append(opts, WithAutoPipelining(false))
	}
	e, err := New(rdb, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	ns := redistest.Namespace(t)
	if err := e.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	for pod := range 4 {
		if err := e.SetServiceState(ctx, ns, "game", pod, FormatPodState(pod, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	const goroutines, rounds = 32, 40
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range rounds {
				uid := "u" + strconv.Itoa(g) + "-" + strconv.Itoa(i)
				pod, err := e.ComputeLinkedPod(ctx, ns, uid, "game", time.Minute, PersistForever)
				if err != nil || pod != 0 {
					t.Errorf("ComputeLinkedPod(%s) = %d, %v; want 0, the lowest load", uid, pod, err)
					return
				}
				prev, err := e.SetLinkedPod(ctx, ns, uid, "game", g%4, PersistForever)
				if err != nil || prev != 0 {
					t.Errorf("SetLinkedPod(%s) previous = %d, %v; want 0", uid, prev, err)
					return
				}
				if got, err := e.GetLinkedPod(ctx, ns, uid, "game"); err != nil || got != g%4 {
					t.Errorf("GetLinkedPod(%s) = %d, %v; want %d", uid, got, err, g%4)
					return
				}
				if ok, err := e.RemoveLinkedPodWithID(ctx, ns, uid, "game", g%4, PersistForever); err != nil || !ok {
					t.Errorf("RemoveLinkedPodWithID(%s) = %v, %v", uid, ok, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if shared := hook.largest.Load() > 3; shared != def {
		t.Errorf("largest pipeline %d commands: round trips shared %v, want %v", hook.largest.Load(), shared, def)
	}
	rm := metrictest.Collect(t, reader)
	for _, id := range []contract.Op{contract.OpComputeLinkedPod, contract.OpSetLinkedPod, contract.OpGetLinkedPod, contract.OpRemoveLinkedPodWithID} {
		ok := []attribute.KeyValue{attribute.String(contract.AttrOperation, id.String()), attribute.String(contract.AttrStatus, contract.StatusOK)}
		if n := sumOf(t, rm, contract.MetricOperations, ok...); n != goroutines*rounds {
			t.Errorf("%s counted %d times, want %d", id, n, goroutines*rounds)
		}
	}
	t.Logf("%d single commands, %d pipelines carrying %d commands", hook.singles.Load(), hook.batches.Load(), hook.batched.Load())
}

// TestAutoPipelinedDeadlines: on a paused server every caller still returns
// by its own deadline; a write whose caller gave up reports that its outcome
// is unknown (it is still queued, and Redis runs it when the pause ends).
func TestAutoPipelinedDeadlines(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := srv.Client(t)
	e, err := New(rdb)
	if err != nil {
		t.Fatal(err)
	}
	forcePipelining(t)
	ctx := testContext(t)
	if err := e.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Client(t).Do(ctx, "CLIENT", "PAUSE", "1500", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	const deadline = 100 * time.Millisecond
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(ctx, deadline)
			defer cancel()
			start := time.Now()
			var err error
			write := g%2 == 0
			if write {
				_, err = e.SetLinkedPod(dctx, "ap.pause", "u"+strconv.Itoa(g), "game", 1, PersistForever)
			} else {
				_, err = e.GetLinkedPod(dctx, "ap.pause", "u", "game")
			}
			if took := time.Since(start); took > deadline+150*time.Millisecond {
				t.Errorf("caller %d returned after %v with a %v deadline", g, took, deadline)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("caller %d: %v, want its deadline", g, err)
			}
			if errors.Is(err, ErrOutcomeUnknown) != write {
				t.Errorf("caller %d (write %v): ErrOutcomeUnknown %v: %v", g, write, errors.Is(err, ErrOutcomeUnknown), err)
			}
		})
	}
	wg.Wait()
}

// TestAutoPipelinedScriptFlush: NOSCRIPT through the pipeliner reloads the
// script and the call succeeds.
func TestAutoPipelinedScriptFlush(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := srv.Client(t)
	e, err := New(rdb)
	if err != nil {
		t.Fatal(err)
	}
	forcePipelining(t)
	ctx := testContext(t)
	if err := e.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetLinkedPod(ctx, "ap.flush", "u", "game", 2, PersistForever); err != nil {
		t.Fatalf("SetLinkedPod after SCRIPT FLUSH, autopipelined: %v", err)
	}
	if s := e.ScriptStats(); s.Misses != 1 || s.Reloads != 1 {
		t.Fatalf("stats %+v, want one miss and one reload", s)
	}
}

// TestLoneCallerSentDirectly: with the default options a caller alone
// sends its commands itself (go-redis's hooks run on its goroutine), so it
// never waits for the pipeliner's flusher: pipelining is free for a router
// with one caller at a time.
func TestLoneCallerSentDirectly(t *testing.T) {
	for _, forced := range []bool{false, true} {
		t.Run("forced="+strconv.FormatBool(forced), func(t *testing.T) {
			rdb := redistest.Client(t)
			hook := &goroutineHook{caller: goroutineID()}
			rdb.AddHook(hook)
			e, err := New(rdb)
			if err != nil {
				t.Fatal(err)
			}
			if forced {
				forcePipelining(t) // the control: the flusher sends
			}
			ctx := testContext(t)
			ns := redistest.Namespace(t)
			for range 5 {
				if _, err := e.GetLinkedPod(ctx, ns, "u", "game"); err != nil {
					t.Fatal(err)
				}
				if _, err := e.SetLinkedPod(ctx, ns, "u", "game", 1, PersistForever); err != nil {
					t.Fatal(err)
				}
			}
			if elsewhere := hook.elsewhere.Load() > 0; elsewhere != forced {
				t.Errorf("%d of %d sends ran on another goroutine than the caller's; want them all there: %v",
					hook.elsewhere.Load(), hook.sends.Load(), !forced)
			}
		})
	}
}

// goroutineHook counts the sends that ran on another goroutine than caller.
type goroutineHook struct {
	caller           uint64
	sends, elsewhere atomic.Int64
}

func (*goroutineHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *goroutineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.count()
		return next(ctx, cmd)
	}
}
func (h *goroutineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.count()
		return next(ctx, cmds)
	}
}

func (h *goroutineHook) count() {
	h.sends.Add(1)
	if goroutineID() != h.caller {
		h.elsewhere.Add(1)
	}
}

// goroutineID is the current goroutine's number, from its stack header.
func goroutineID() uint64 {
	var buf [64]byte
	f := strings.Fields(string(buf[:runtime.Stack(buf[:], false)]))
	id, _ := strconv.ParseUint(f[1], 10, 64)
	return id
}

// TestCommandSpansBypassPipelining: while command spans are recorded on the
// client, commands go directly, each sent by its caller, so each can be the
// child of its operation's span.
func TestCommandSpansBypassPipelining(t *testing.T) {
	rdb := redistest.Client(t)
	hook := &goroutineHook{caller: goroutineID()}
	rdb.AddHook(hook)
	e, err := New(rdb, WithRedisCommandSpans(true))
	if err != nil {
		t.Fatal(err)
	}
	forcePipelining(t)
	ctx := testContext(t)
	if _, err := e.GetWorkloadState(ctx, redistest.Namespace(t), "game"); err != nil {
		t.Fatal(err)
	}
	if hook.sends.Load() == 0 || hook.elsewhere.Load() != 0 {
		t.Errorf("%d sends, %d of them by another goroutine than the caller; want all by the caller", hook.sends.Load(), hook.elsewhere.Load())
	}
}

// TestAutoPipelinedLostReply: a batch whose reply is lost after Redis ran
// it is not resent (the pipeliner never replays a batch holding a NoRetry
// command): the write reports an unknown outcome or its true result, and
// ran once.
func TestAutoPipelinedLostReply(t *testing.T) {
	srv := redistest.StartServer(t)
	proxy := redistest.StartProxy(t, srv.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr, ContextTimeoutEnabled: true}) // MaxRetries: the default, 3
	t.Cleanup(func() { _ = rdb.Close() })
	e, err := New(rdb)
	if err != nil {
		t.Fatal(err)
	}
	forcePipelining(t)
	ctx := testContext(t)
	if err := e.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetLinkedPod(ctx, "ap.lost", "u", "game", 3, PersistForever); err != nil {
		t.Fatal(err)
	}
	proxy.DropReplyTo("evalsha")
	prev, err := e.SetLinkedPod(ctx, "ap.lost", "u", "game", 7, PersistForever)
	if proxy.Dropped() == 0 {
		t.Fatal("the proxy lost no reply; the fault did not happen")
	}
	if err == nil && prev != 3 || err != nil && !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("SetLinkedPod after a lost batch reply = %d, %v; want 3 or ErrOutcomeUnknown", prev, err)
	}
	if got := srv.Client(t).Get(ctx, linkKey("ap.lost", "u", "game")).Val(); got != "7" {
		t.Fatalf("the link holds %q, want 7", got)
	}
}
