package otelexec

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/statefulroute/sfotel/internal/redistest"
)

// TestRawLayout runs every writing operation and then reads the whole
// namespace with a plain client: the exact set of keys, their types, values
// and TTLs must be the Java executor's layout (docs/design.md).
func TestRawLayout(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)
	now := time.Unix(1_764_000_000, 0)

	steps := []func() error{
		func() error { return e.SetServiceState(ctx, ns, "game", 1, FormatPodState(4, now)) },
		func() error { return e.SetServiceState(ctx, ns, "game", 2, FormatPodState(9, now)) },
		func() error { return e.SetWorkloadState(ctx, ns, "game", "draining") },
		func() error { _, err := e.SetLinkedPod(ctx, ns, "alice", "game", 1, PersistForever); return err },
		func() error { _, err := e.SetLinkedPod(ctx, ns, "alice", "chat", 7, 120); return err },
		func() error { _, _, err := e.TrySetLinkedPod(ctx, ns, "bob:1", "game", 2, PersistForever); return err },
		func() error { _, err := e.SetLinkedPodIfAbsent(ctx, ns, "carol", "game", 1, 60); return err },
		func() error { _, err := e.SetLinkedPod(ctx, ns, "dave", "game", 2, PersistForever); return err },
		func() error { _, err := e.RemoveLinkedPod(ctx, ns, "dave", "game", PersistForever); return err },
		func() error { _, err := e.SetLinkedPod(ctx, ns, "erin", "game", 2, PersistForever); return err },
		func() error { _, err := e.RemoveLinkedPodWithID(ctx, ns, "erin", "game", 2, 45); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}

	type entry struct {
		typ   string
		value any           // string, or map[string]string for hashes
		ttl   time.Duration // -1: none; else the upper bound of the TTL
	}
	p := "sf:{" + ns
	want := map[string]entry{
		p + ":state:game}":    {"hash", map[string]string{"1": "4-1764000000", "2": "9-1764000000"}, -1},
		p + ":workload:game}": {"string", "draining", -1},
		p + ":lk:alice}":      {"hash", map[string]string{"game": "1"}, -1},
		p + ":lk:alice}game":  {"string", "1", -1},
		p + ":lk:alice}chat":  {"string", "7", 120 * time.Second},
		p + ":lk:bob:1}":      {"hash", map[string]string{"game": "2"}, -1},
		p + ":lk:bob:1}game":  {"string", "2", -1},
		p + ":lk:carol}game":  {"string", "1", 60 * time.Second},
		p + ":lk:erin}game":   {"string", "2", 45 * time.Second}, // grace period
	}
	keys, err := redistest.Keys(ctx, raw, ns)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if wantKeys := slices.Sorted(maps.Keys(want)); !slices.Equal(keys, wantKeys) {
		t.Fatalf("keys:\n  %q\nwant:\n  %q", keys, wantKeys)
	}
	for key, w := range want {
		if typ := raw.Type(ctx, key).Val(); typ != w.typ {
			t.Errorf("%s: type %s, want %s", key, typ, w.typ)
			continue
		}
		switch v := w.value.(type) {
		case string:
			if got := raw.Get(ctx, key).Val(); got != v {
				t.Errorf("%s = %q, want %q", key, got, v)
			}
		case map[string]string:
			if got := raw.HGetAll(ctx, key).Val(); !maps.Equal(got, v) {
				t.Errorf("%s = %v, want %v", key, got, v)
			}
		}
		d := ttl(t, raw, key)
		switch {
		case w.ttl == -1 && d != -1:
			t.Errorf("%s: TTL %v, want none", key, d)
		case w.ttl > 0 && (d <= w.ttl-10*time.Second || d > w.ttl):
			t.Errorf("%s: TTL %v, want about %v", key, d, w.ttl)
		}
	}
}
