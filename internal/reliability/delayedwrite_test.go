package reliability

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
)

const (
	delayedDeadline = 150 * time.Millisecond
	delayedBy       = 550 * time.Millisecond // longer than the deadline: the write lands after the caller gave up
)

// TestDelayedWriteIsOutcomeUnknown: a proxy holds each command 550 ms and
// then delivers it; with a 150 ms deadline every write returns an error
// wrapping ErrOutcomeUnknown and the deadline, class outcome_unknown, and
// Redis then holds what it wrote. A timeout ("nothing was written") would
// be a lie. A write whose deadline passed before it was sent is a timeout,
// and Redis holds nothing of it.
func TestDelayedWriteIsOutcomeUnknown(t *testing.T) {
	srv := redistest.StartServer(t)
	admin := srv.Client(t)
	c, proxy := proxiedClient(t, srv, 3)
	e := startExecutor(t, c)
	ctx := context.Background()
	const ns, svc = "rel.delayed", "svc"
	if err := e.SetServiceState(ctx, ns, "game", 2, otelexec.FormatPodState(0, time.Now())); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []string{"u4", "u5"} {
		if _, err := e.SetLinkedPod(ctx, ns, uid, svc, 3, otelexec.PersistForever); err != nil {
			t.Fatal(err)
		}
	}
	link := func(uid, service string) func() string {
		return func() string { return admin.Get(ctx, linkKey(ns, uid, service)).Val() }
	}
	for _, tc := range []struct {
		op      contract.Op
		hold    string // the commands the proxy holds: "\r\n" is every one
		run     func(ctx context.Context) error
		stored  func() string // what Redis holds
		written string        // once the write landed
	}{
		{contract.OpSetServiceState, "\r\n", func(ctx context.Context) error {
			return e.SetServiceState(ctx, ns, svc, 1, "5-1764000000")
		}, func() string { return admin.HGet(ctx, stateKey(ns, svc), "1").Val() }, "5-1764000000"},
		{contract.OpSetWorkloadState, "\r\n", func(ctx context.Context) error {
			return e.SetWorkloadState(ctx, ns, svc, "busy")
		}, func() string { return admin.Get(ctx, workloadKey(ns, svc)).Val() }, "busy"},
		{contract.OpSetLinkedPod, "\r\n", func(ctx context.Context) error {
			_, err := e.SetLinkedPod(ctx, ns, "u1", svc, 7, otelexec.PersistForever)
			return err
		}, link("u1", svc), "7"},
		{contract.OpTrySetLinkedPod, "\r\n", func(ctx context.Context) error {
			_, _, err := e.TrySetLinkedPod(ctx, ns, "u2", svc, 7, otelexec.PersistForever)
			return err
		}, link("u2", svc), "7"},
		{contract.OpSetLinkedPodIfAbsent, "\r\n", func(ctx context.Context) error {
			_, err := e.SetLinkedPodIfAbsent(ctx, ns, "u3", svc, 7, otelexec.PersistForever)
			return err
		}, link("u3", svc), "7"},
		{contract.OpRemoveLinkedPod, "\r\n", func(ctx context.Context) error {
			_, err := e.RemoveLinkedPod(ctx, ns, "u4", svc, otelexec.PersistForever)
			return err
		}, link("u4", svc), ""},
		{contract.OpRemoveLinkedPodWithID, "\r\n", func(ctx context.Context) error {
			_, err := e.RemoveLinkedPodWithID(ctx, ns, "u5", svc, 3, otelexec.PersistForever)
			return err
		}, link("u5", svc), ""},
		// ComputeLinkedPod reads first: only its link script is held.
		{contract.OpComputeLinkedPod, "evalsha", func(ctx context.Context) error {
			_, err := e.ComputeLinkedPod(ctx, ns, "u6", "game", time.Minute, otelexec.PersistForever)
			return err
		}, link("u6", "game"), "2"},
	} {
		before := tc.stored()
		// A connection dialled before the hold: the write, not the
		// handshake of a new connection, is what the proxy holds.
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		proxy.Hold(tc.hold, delayedBy)
		err := withTimeout(delayedDeadline, tc.run)
		if !errors.Is(err, otelexec.ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
			t.Errorf("%s delayed past its deadline: %v, want ErrOutcomeUnknown wrapping the deadline", tc.op, err)
		}
		if got := otelexec.ErrorType(err); got != contract.ErrorOutcomeUnknown.String() {
			t.Errorf("%s: class %q, want outcome_unknown", tc.op, got)
		}
		landed := time.Now().Add(2 * delayedBy)
		for tc.stored() != tc.written && time.Now().Before(landed) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := tc.stored(); got != tc.written || got == before {
			t.Errorf("%s: Redis holds %q (before: %q), want %q: the delayed write landed", tc.op, got, before, tc.written)
		}
		proxy.Hold("\r\n", 0)
	}

	// A deadline that passed before the write was sent: nothing was written.
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	err := e.SetWorkloadState(expired, ns, "never", "busy")
	if got := otelexec.ErrorType(err); got != contract.ErrorTimeout.String() || errors.Is(err, otelexec.ErrOutcomeUnknown) {
		t.Errorf("SetWorkloadState past its deadline before it was sent: %v, class %q, want timeout", err, got)
	}
	if n := admin.Exists(ctx, workloadKey(ns, "never")).Val(); n != 0 {
		t.Errorf("a write whose deadline had passed before it was sent was applied")
	}
}
