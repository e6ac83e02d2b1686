package otelexec

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newLogged is newInstrumented with a logger writing to the returned buffer.
func newLogged(t *testing.T, opts ...Option) (instrumented, *syncBuffer, string) {
	t.Helper()
	logs := &syncBuffer{}
	in, ns := newInstrumented(t, append([]Option{WithLogger(slog.New(slog.NewTextHandler(logs, nil)))}, opts...)...)
	return in, logs, ns
}

// skippedCount is stateful_executor.stored_values.skipped{kind}.
func skippedCount(t testing.TB, in instrumented, kind contract.SkipKind) int64 {
	t.Helper()
	return sumOf(t, in.collect(t), contract.MetricStoredSkipped, attribute.String(contract.AttrKind, kind.String()))
}

// TestForeignStateFieldsSkipped: a pod state field that is not a pod ID
// (another writer's data) never stops routing for the service: it is left
// out of GetServiceState and ComputeLinkedPod, counted and logged once.
func TestForeignStateFieldsSkipped(t *testing.T) {
	in, logs, ns := newLogged(t)
	ctx := testContext(t)
	raw := redistest.Client(t)
	now := time.Now()
	// 01 and 1 would both be pod 1, and which won would flip between reads.
	fields := map[string]string{
		"pod-7":      FormatPodState(0, now),
		"2147483648": FormatPodState(0, now),
		"01":         FormatPodState(0, now),
		" 2":         FormatPodState(0, now),
		"1":          FormatPodState(5, now),
		"3":          FormatPodState(4, now),
	}
	if err := raw.HSet(ctx, stateKey(ns, "game"), fields).Err(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		got := must[map[int]string](t)(in.GetServiceState(ctx, ns, "game"))
		if want := map[int]string{1: fields["1"], 3: fields["3"]}; !maps.Equal(got, want) {
			t.Fatalf("GetServiceState = %v, want %v", got, want)
		}
	}
	for i, uid := range []string{"u1", "u2"} {
		if pod := must[int](t)(in.ComputeLinkedPod(ctx, ns, uid, "game", time.Minute, PersistForever)); pod != 3 {
			t.Fatalf("ComputeLinkedPod %d = %d, want 3 (the least-loaded valid pod)", i, pod)
		}
	}
	// 4 foreign fields, skipped by 3 GetServiceState and 2 ComputeLinkedPod.
	if n := skippedCount(t, in, contract.SkipStateField); n != 4*5 {
		t.Errorf("skipped{kind=state_field} = %d, want %d", n, 4*5)
	}
	lines := logLines(logs.String(), "skipped stored data")
	if len(lines) != 1 {
		t.Fatalf("%d log lines about skipped data, want 1 (once per namespace, service and kind):\n%s", len(lines), logs)
	}
	for _, want := range []string{"namespace=" + ns, "service=game", "kind=state_field", "operation=GetServiceState", "level=WARN"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("log line lacks %q: %s", want, lines[0])
		}
	}
	for _, field := range []string{"pod-7", "2147483648", stateKey(ns, "game")} {
		if strings.Contains(lines[0], field) {
			t.Errorf("log line carries the stored field or key %q: %s", field, lines[0])
		}
	}
}

// TestBadStateValuesSkipped: ComputeLinkedPod passes over states it cannot
// parse, counts them and routes to the valid pods.
func TestBadStateValuesSkipped(t *testing.T) {
	in, logs, ns := newLogged(t)
	ctx := testContext(t)
	now := time.Now()
	for pod, state := range map[int]string{1: "garbage", 2: "x-1", 3: FormatPodState(9, now), 4: "alice@example.com"} {
		must[struct{}](t)(struct{}{}, in.SetServiceState(ctx, ns, "game", pod, state))
	}
	if pod := must[int](t)(in.ComputeLinkedPod(ctx, ns, "u", "game", time.Minute, PersistForever)); pod != 3 {
		t.Fatalf("ComputeLinkedPod = %d, want 3, the only pod with a state that parses", pod)
	}
	if n := skippedCount(t, in, contract.SkipStateValue); n != 3 {
		t.Errorf("skipped{kind=state_value} = %d, want 3", n)
	}
	lines := logLines(logs.String(), "skipped stored data")
	if len(lines) != 1 || !strings.Contains(lines[0], "kind=state_value") || !strings.Contains(lines[0], "operation=ComputeLinkedPod") {
		t.Fatalf("log = %q, want one line for kind state_value", lines)
	}
	if strings.Contains(lines[0], "alice") || strings.Contains(lines[0], "garbage") {
		t.Errorf("log line carries a stored state: %s", lines[0])
	}
}

// TestBadLinkValuesAreNoLink: a link value that is not a pod ID is no link
// for every read, counted, and never fails the call (one such value used to
// fail a whole BatchGetLinkedPod).
func TestBadLinkValuesAreNoLink(t *testing.T) {
	in, logs, ns := newLogged(t)
	ctx := testContext(t)
	raw := redistest.Client(t)
	must[int](t)(in.SetLinkedPod(ctx, ns, "good", "game", 4, PersistForever))
	for _, kv := range [][2]string{{linkKey(ns, "bad", "game"), "alice@example.com"}, {linkKey(ns, "hex", "game"), "0x10"}} {
		if err := raw.Set(ctx, kv[0], kv[1], 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.HSet(ctx, linkHashKey(ns, "good"), "chat", "1.0").Err(); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []string{"bad", "hex"} {
		if pod := must[int](t)(in.GetLinkedPod(ctx, ns, uid, "game")); pod != -1 {
			t.Errorf("GetLinkedPod(%s) = %d, want -1: the value is not a pod ID", uid, pod)
		}
	}
	got := must[map[int][]string](t)(in.BatchGetLinkedPod(ctx, ns, []string{"bad", "good", "hex", "none"}, "game"))
	if want := map[int][]string{4: {"good"}}; !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("BatchGetLinkedPod = %v, want %v", got, want)
	}
	links := must[map[string]int](t)(in.GetLinkService(ctx, ns, "good"))
	if want := map[string]int{"game": 4}; !maps.Equal(links, want) {
		t.Errorf("GetLinkService = %v, want %v", links, want)
	}
	if n := skippedCount(t, in, contract.SkipLinkValue); n != 2+2+1 {
		t.Errorf("skipped{kind=link_value} = %d, want 5", n)
	}
	lines := logLines(logs.String(), "skipped stored data")
	// (ns, game, link_value) once, and (ns, "", link_value) for GetLinkService.
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2:\n%s", len(lines), logs)
	}
	for _, l := range lines {
		for _, secret := range []string{"alice", "0x10", "1.0", "good", "bad", "hex", "chat", "sf:{"} {
			if strings.Contains(l, secret) {
				t.Errorf("log line carries %q: %s", secret, l)
			}
		}
	}
}

// TestSkipLogBounded: the set of logged triples is bounded; past it one
// line says so and the rest is only counted.
func TestSkipLogBounded(t *testing.T) {
	in, logs, ns := newLogged(t)
	ctx := context.Background()
	for i := range maxSkipLogged + 10 {
		in.skipped(ctx, contract.OpGetLinkedPod, ns, "svc"+strconv.Itoa(i), contract.SkipLinkValue, 1)
		in.skipped(ctx, contract.OpGetLinkedPod, ns, "svc"+strconv.Itoa(i), contract.SkipLinkValue, 1)
	}
	if n := len(logLines(logs.String(), "skipped stored data that")); n != maxSkipLogged {
		t.Errorf("%d first-skip lines, want %d", n, maxSkipLogged)
	}
	if n := len(logLines(logs.String(), "further ones are only counted")); n != 1 {
		t.Errorf("%d overflow lines, want 1", n)
	}
	if n := skippedCount(t, in, contract.SkipLinkValue); n != 2*(maxSkipLogged+10) {
		t.Errorf("skipped = %d, want %d: every skip is counted", n, 2*(maxSkipLogged+10))
	}
}

func logLines(logs, containing string) []string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, containing) {
			out = append(out, l)
		}
	}
	return out
}
