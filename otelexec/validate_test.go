package otelexec

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/statefulroute/sfotel/internal/redistest"
)

// TestBadInputWritesNothing runs every operation with bad input against a real
// Redis: each call must fail with an error that wraps ErrInvalidArgument and
// names the field, and the namespace must hold no key afterwards.
func TestBadInputWritesNothing(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)
	long := strings.Repeat("a", 513)
	const minute = time.Minute

	cases := []struct {
		name  string
		field string
		call  func() error
	}{
		{"empty namespace", "namespace", func() error { return e.SetServiceState(ctx, "", "svc", 1, "s") }},
		{"blank namespace", "namespace", func() error { return e.SetWorkloadState(ctx, "   ", "svc", "s") }},
		{"namespace with {", "namespace", func() error { _, err := e.SetLinkedPod(ctx, ns+"{", "u", "svc", 1, -1); return err }},
		{"namespace with }", "namespace", func() error { _, err := e.SetLinkedPod(ctx, ns+"}", "u", "svc", 1, -1); return err }},
		{"namespace with :", "namespace", func() error { _, err := e.SetLinkedPod(ctx, ns+":lk:x", "u", "svc", 1, -1); return err }},
		{"namespace with *", "namespace", func() error { return e.SetWorkloadState(ctx, ns+"*", "svc", "s") }},
		{"namespace with control char", "namespace", func() error { return e.SetWorkloadState(ctx, ns+"\x01", "svc", "s") }},
		{"namespace 513 bytes", "namespace", func() error { return e.SetWorkloadState(ctx, long, "svc", "s") }},
		{"empty service", "serviceName", func() error { return e.SetServiceState(ctx, ns, "", 1, "s") }},
		{"blank service", "serviceName", func() error { return e.SetServiceState(ctx, ns, " \t", 1, "s") }},
		{"service with :", "serviceName", func() error { _, err := e.SetLinkedPod(ctx, ns, "u", "a:b", 1, -1); return err }},
		{"service with space", "serviceName", func() error { return e.SetWorkloadState(ctx, ns, "a b", "s") }},
		{"service with newline", "serviceName", func() error { return e.SetWorkloadState(ctx, ns, "a\n", "s") }},
		{"service 513 bytes", "serviceName", func() error { _, err := e.SetLinkedPod(ctx, ns, "u", long, 1, -1); return err }},
		{"empty uid", "uid", func() error { _, err := e.SetLinkedPod(ctx, ns, "", "svc", 1, -1); return err }},
		{"blank uid", "uid", func() error { _, err := e.SetLinkedPodIfAbsent(ctx, ns, "  ", "svc", 1, -1); return err }},
		{"uid with {", "uid", func() error { _, _, err := e.TrySetLinkedPod(ctx, ns, "a{b", "svc", 1, -1); return err }},
		{"uid with }", "uid", func() error { _, err := e.SetLinkedPod(ctx, ns, "a}b", "svc", 1, -1); return err }},
		{"uid with control char", "uid", func() error { _, err := e.SetLinkedPod(ctx, ns, "a\x00b", "svc", 1, -1); return err }},
		{"uid with DEL", "uid", func() error { _, err := e.SetLinkedPod(ctx, ns, "a\x7f", "svc", 1, -1); return err }},
		{"uid invalid UTF-8", "uid", func() error { _, err := e.SetLinkedPod(ctx, ns, "a\xffb", "svc", 1, -1); return err }},
		{"uid 513 bytes", "uid", func() error { _, err := e.SetLinkedPod(ctx, ns, long, "svc", 1, -1); return err }},
		{"negative pod ID", "podID", func() error { _, err := e.SetLinkedPod(ctx, ns, "u", "svc", -1, -1); return err }},
		{"pod ID above 2^31-1", "podID", func() error { return e.SetServiceState(ctx, ns, "svc", 1<<31, "s") }},
		{"negative pod ID in RemoveLinkedPodWithID", "podID", func() error { _, err := e.RemoveLinkedPodWithID(ctx, ns, "u", "svc", -5, -1); return err }},
		{"persistSeconds 0", "persistSeconds", func() error { _, err := e.SetLinkedPod(ctx, ns, "u", "svc", 1, 0); return err }},
		{"persistSeconds -2", "persistSeconds", func() error { _, _, err := e.TrySetLinkedPod(ctx, ns, "u", "svc", 1, -2); return err }},
		{"persistSeconds 0 in RemoveLinkedPod", "persistSeconds", func() error { _, err := e.RemoveLinkedPod(ctx, ns, "u", "svc", 0); return err }},
		{"persistSeconds above 2^31-1", "persistSeconds", func() error { _, err := e.ComputeLinkedPod(ctx, ns, "u", "svc", minute, 1<<31); return err }},
		{"empty state", "state", func() error { return e.SetServiceState(ctx, ns, "svc", 1, "") }},
		{"state 4097 bytes", "state", func() error { return e.SetWorkloadState(ctx, ns, "svc", strings.Repeat("s", 4097)) }},
		{"aliveWithin 0", "aliveWithin", func() error { _, err := e.ComputeLinkedPod(ctx, ns, "u", "svc", 0, -1); return err }},
		{"bad uid inside batch", "uids[1]", func() error {
			_, err := e.BatchGetLinkedPod(ctx, ns, []string{"ok", "bad{", "ok2"}, "svc")
			return err
		}},
		{"empty service inside batch", "serviceNames[2]", func() error {
			_, err := e.GetWorkloadStateBatch(ctx, ns, []string{"a", "b", ""})
			return err
		}},
		{"bad namespace in GetLinkService", "namespace", func() error { _, err := e.GetLinkService(ctx, "a:b", "u"); return err }},
		{"bad uid in GetLinkService", "uid", func() error { _, err := e.GetLinkService(ctx, ns, "}"); return err }},
		{"bad uid in RemoveLinkedPod", "uid", func() error { _, err := e.RemoveLinkedPod(ctx, ns, "", "svc", -1); return err }},
		{"bad service in GetLinkedPod", "serviceName", func() error { _, err := e.GetLinkedPod(ctx, ns, "u", "x?"); return err }},
		{"bad service in GetLinkedPodIfPersist", "serviceName", func() error { _, err := e.GetLinkedPodIfPersist(ctx, ns, "u", "x["); return err }},
		{"bad service in GetServiceState", "serviceName", func() error { _, err := e.GetServiceState(ctx, ns, "x}"); return err }},
		{"bad service in GetWorkloadState", "serviceName", func() error { _, err := e.GetWorkloadState(ctx, ns, ""); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("error = %v, want one wrapping ErrInvalidArgument", err)
			}
			var argErr *ArgumentError
			if !errors.As(err, &argErr) || argErr.Field != c.field {
				t.Fatalf("error = %v, want field %q", err, c.field)
			}
			if !strings.Contains(err.Error(), "invalid "+c.field+":") {
				t.Fatalf("message %q does not name the field %q", err, c.field)
			}
		})
	}
	keys, err := redistest.Keys(context.Background(), raw, ns)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Fatalf("rejected calls wrote keys: %v", keys)
	}
	// The namespaces above that differ from ns only by a bad suffix must not
	// have been written either.
	if n := raw.Keys(context.Background(), "sf:{"+ns+"*").Val(); len(n) != 0 {
		t.Fatalf("rejected calls wrote keys under a look-alike namespace: %v", n)
	}
}

func TestValidUIDCharactersAreStoredExactly(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)
	for _, uid := range []string{"a:b", "*", "?x", "[y]", "ü·名", "a b", "\uFFFD"} {
		if _, err := e.SetLinkedPod(ctx, ns, uid, "svc", 4, PersistForever); err != nil {
			t.Fatalf("uid %q rejected: %v", uid, err)
		}
		if v := raw.Get(ctx, "sf:{"+ns+":lk:"+uid+"}svc").Val(); v != "4" {
			t.Fatalf("uid %q: raw link = %q", uid, v)
		}
	}
}

func TestValidateMessages(t *testing.T) {
	cases := map[string]error{
		"otelexec: invalid uid: contains '{'":                                                    validateUID("uid", "a{"),
		"otelexec: invalid namespace: empty":                                                     validateName("namespace", ""),
		"otelexec: invalid serviceName: blank":                                                   validateName("serviceName", "  "),
		"otelexec: invalid persistSeconds: must be -1 (persistent) or 1..2147483647 seconds (0)": validatePersist("persistSeconds", 0),
	}
	for want, err := range cases {
		if err == nil || err.Error() != want {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}
