package otelexec

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
)

func TestServiceState(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)

	got := must[map[int]string](t)(e.GetServiceState(ctx, ns, "game"))
	if got == nil || len(got) != 0 {
		t.Fatalf("GetServiceState before any state = %#v, want empty non-nil map", got)
	}
	for pod, state := range map[int]string{0: "3-100", 7: "1-200", 2147483647: "max"} {
		if err := e.SetServiceState(ctx, ns, "game", pod, state); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.SetServiceState(ctx, ns, "game", 7, "2-300"); err != nil {
		t.Fatal(err)
	}
	want := map[int]string{0: "3-100", 7: "2-300", 2147483647: "max"}
	got = must[map[int]string](t)(e.GetServiceState(ctx, ns, "game"))
	if !maps.Equal(got, want) {
		t.Fatalf("GetServiceState = %v, want %v", got, want)
	}
	// Java layout: one hash per service, field = decimal pod ID.
	rawHash := raw.HGetAll(ctx, "sf:{"+ns+":state:game}").Val()
	if !maps.Equal(rawHash, map[string]string{"0": "3-100", "7": "2-300", "2147483647": "max"}) {
		t.Fatalf("raw state hash = %v", rawHash)
	}
	if d := ttl(t, raw, "sf:{"+ns+":state:game}"); d != -1 {
		t.Fatalf("state hash TTL = %v, want none", d)
	}
}

func TestWorkloadState(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)

	if s := must[string](t)(e.GetWorkloadState(ctx, ns, "game")); s != "" {
		t.Fatalf("GetWorkloadState unset = %q, want empty", s)
	}
	if err := e.SetWorkloadState(ctx, ns, "game", "busy"); err != nil {
		t.Fatal(err)
	}
	if err := e.SetWorkloadState(ctx, ns, "chat", "idle"); err != nil {
		t.Fatal(err)
	}
	if s := must[string](t)(e.GetWorkloadState(ctx, ns, "game")); s != "busy" {
		t.Fatalf("GetWorkloadState = %q, want busy", s)
	}
	if v := raw.Get(ctx, "sf:{"+ns+":workload:game}").Val(); v != "busy" {
		t.Fatalf("raw workload = %q", v)
	}

	batch := must[map[string]string](t)(e.GetWorkloadStateBatch(ctx, ns, []string{"game", "chat", "unset", "game"}))
	if want := map[string]string{"game": "busy", "chat": "idle"}; !maps.Equal(batch, want) {
		t.Fatalf("GetWorkloadStateBatch = %v, want %v", batch, want)
	}
	for _, in := range [][]string{nil, {}} {
		batch, err := e.GetWorkloadStateBatch(ctx, ns, in)
		if err != nil || batch == nil || len(batch) != 0 {
			t.Fatalf("GetWorkloadStateBatch(%#v) = %#v, %v; want empty map", in, batch, err)
		}
	}
}

func TestSetLinkedPodPersistentAndTemporary(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)
	hash, link := "sf:{"+ns+":lk:user:1}", "sf:{"+ns+":lk:user:1}game"

	if p := must[int](t)(e.SetLinkedPod(ctx, ns, "user:1", "game", 5, PersistForever)); p != -1 {
		t.Fatalf("first SetLinkedPod previous = %d, want -1", p)
	}
	if v := raw.Get(ctx, link).Val(); v != "5" {
		t.Fatalf("raw link = %q, want 5", v)
	}
	if d := ttl(t, raw, link); d != -1 {
		t.Fatalf("persistent link TTL = %v, want none", d)
	}
	if h := raw.HGetAll(ctx, hash).Val(); !maps.Equal(h, map[string]string{"game": "5"}) {
		t.Fatalf("raw link hash = %v", h)
	}
	if p := must[int](t)(e.GetLinkedPodIfPersist(ctx, ns, "user:1", "game")); p != 5 {
		t.Fatalf("GetLinkedPodIfPersist = %d, want 5", p)
	}

	// Temporary: the link gets a TTL and leaves the persistent hash.
	if p := must[int](t)(e.SetLinkedPod(ctx, ns, "user:1", "game", 6, 100)); p != 5 {
		t.Fatalf("SetLinkedPod previous = %d, want 5", p)
	}
	if d := ttl(t, raw, link); d <= 90*time.Second || d > 100*time.Second {
		t.Fatalf("temporary link TTL = %v, want ~100s", d)
	}
	if n := raw.Exists(ctx, hash).Val(); n != 0 {
		t.Fatalf("link hash still exists after temporary link: %v", raw.HGetAll(ctx, hash).Val())
	}
	if p := must[int](t)(e.GetLinkedPod(ctx, ns, "user:1", "game")); p != 6 {
		t.Fatalf("GetLinkedPod = %d, want 6", p)
	}
	if p := must[int](t)(e.GetLinkedPodIfPersist(ctx, ns, "user:1", "game")); p != -1 {
		t.Fatalf("GetLinkedPodIfPersist on temporary link = %d, want -1", p)
	}
	// Persistent again: TTL cleared.
	if p := must[int](t)(e.SetLinkedPod(ctx, ns, "user:1", "game", 7, PersistForever)); p != 6 {
		t.Fatalf("SetLinkedPod previous = %d, want 6", p)
	}
	if d := ttl(t, raw, link); d != -1 {
		t.Fatalf("link TTL after persisting = %v, want none", d)
	}
	if p := must[int](t)(e.GetLinkedPod(ctx, ns, "nobody", "game")); p != -1 {
		t.Fatalf("GetLinkedPod without link = %d, want -1", p)
	}
}

func TestTemporaryLinkExpires(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)
	must[int](t)(e.SetLinkedPod(ctx, ns, "u", "game", 3, 1))
	deadline := time.Now().Add(5 * time.Second)
	for raw.Exists(ctx, "sf:{"+ns+":lk:u}game").Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("temporary link with persistSeconds=1 still exists after 5s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if p := must[int](t)(e.GetLinkedPod(ctx, ns, "u", "game")); p != -1 {
		t.Fatalf("GetLinkedPod after expiry = %d, want -1", p)
	}
}

func TestTrySetLinkedPod(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)
	try := func(pod, persist int) (bool, int) {
		t.Helper()
		ok, cur, err := e.TrySetLinkedPod(ctx, ns, "u", "game", pod, persist)
		if err != nil {
			t.Fatal(err)
		}
		return ok, cur
	}
	if ok, cur := try(1, 60); !ok || cur != 1 {
		t.Fatalf("TrySet on empty = %v,%d; want true,1", ok, cur)
	}
	if ok, cur := try(2, PersistForever); !ok || cur != 2 {
		t.Fatalf("TrySet over temporary link = %v,%d; want true,2", ok, cur)
	}
	if ok, cur := try(3, PersistForever); ok || cur != 2 {
		t.Fatalf("TrySet over persistent link to other pod = %v,%d; want false,2", ok, cur)
	}
	if v := raw.Get(ctx, "sf:{"+ns+":lk:u}game").Val(); v != "2" {
		t.Fatalf("raw link after failed TrySet = %q, want 2", v)
	}
	if ok, cur := try(2, 30); !ok || cur != 2 {
		t.Fatalf("TrySet same pod = %v,%d; want true,2", ok, cur)
	}
	if d := ttl(t, raw, "sf:{"+ns+":lk:u}game"); d <= 0 {
		t.Fatalf("TTL after TrySet temporary = %v", d)
	}
}

func TestSetLinkedPodIfAbsent(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)
	if p := must[int](t)(e.SetLinkedPodIfAbsent(ctx, ns, "u", "game", 4, 60)); p != 4 {
		t.Fatalf("IfAbsent on empty = %d, want 4", p)
	}
	if p := must[int](t)(e.SetLinkedPodIfAbsent(ctx, ns, "u", "game", 9, PersistForever)); p != 4 {
		t.Fatalf("IfAbsent over temporary link = %d, want 4 (existing wins)", p)
	}
	if d := ttl(t, raw, "sf:{"+ns+":lk:u}game"); d <= 0 {
		t.Fatalf("existing temporary link lost its TTL: %v", d)
	}
	if p := must[int](t)(e.SetLinkedPodIfAbsent(ctx, ns, "v", "game", 9, PersistForever)); p != 9 {
		t.Fatalf("IfAbsent persistent = %d, want 9", p)
	}
	if h := raw.HGet(ctx, "sf:{"+ns+":lk:v}", "game").Val(); h != "9" {
		t.Fatalf("persistent IfAbsent not in hash: %q", h)
	}
}

func TestBatchGetLinkedPod(t *testing.T) {
	e, _, ns := newTestExecutor(t)
	ctx := testContext(t)
	for uid, pod := range map[string]int{"a": 1, "b": 2, "c": 1, "d:*?[": 3} {
		must[int](t)(e.SetLinkedPod(ctx, ns, uid, "game", pod, PersistForever))
	}
	must[int](t)(e.SetLinkedPod(ctx, ns, "a", "chat", 9, PersistForever))
	got := must[map[int][]string](t)(e.BatchGetLinkedPod(ctx, ns, []string{"a", "b", "c", "missing", "a", "d:*?["}, "game"))
	for _, uids := range got {
		slices.Sort(uids)
	}
	// A uid given twice is listed twice, as the Java executor lists it.
	want := map[int][]string{1: {"a", "a", "c"}, 2: {"b"}, 3: {"d:*?["}}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("BatchGetLinkedPod = %v, want %v", got, want)
	}
	for _, in := range [][]string{nil, {}} {
		got, err := e.BatchGetLinkedPod(ctx, ns, in, "game")
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("BatchGetLinkedPod(%#v) = %#v, %v; want empty map", in, got, err)
		}
	}
	got = must[map[int][]string](t)(e.BatchGetLinkedPod(ctx, ns, []string{"missing"}, "game"))
	if len(got) != 0 {
		t.Fatalf("BatchGetLinkedPod of unlinked uid = %v", got)
	}
}

func TestRemoveLinkedPod(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)
	link, hash := "sf:{"+ns+":lk:u}game", "sf:{"+ns+":lk:u}"

	must[int](t)(e.SetLinkedPod(ctx, ns, "u", "game", 1, PersistForever))
	if ok := must[bool](t)(e.RemoveLinkedPod(ctx, ns, "u", "game", PersistForever)); !ok {
		t.Fatal("RemoveLinkedPod of existing link = false")
	}
	if raw.Exists(ctx, link, hash).Val() != 0 {
		t.Fatal("link or hash entry left after RemoveLinkedPod(-1)")
	}
	if ok := must[bool](t)(e.RemoveLinkedPod(ctx, ns, "u", "game", PersistForever)); ok {
		t.Fatal("RemoveLinkedPod without link = true")
	}

	// Grace period: the link stays as a temporary link (differs from Java).
	must[int](t)(e.SetLinkedPod(ctx, ns, "u", "game", 2, PersistForever))
	if ok := must[bool](t)(e.RemoveLinkedPod(ctx, ns, "u", "game", 30)); !ok {
		t.Fatal("RemoveLinkedPod(30) of existing link = false")
	}
	if d := ttl(t, raw, link); d <= 20*time.Second || d > 30*time.Second {
		t.Fatalf("grace period TTL = %v, want ~30s", d)
	}
	if raw.HExists(ctx, hash, "game").Val() {
		t.Fatal("link still in persistent hash during grace period")
	}
	if p := must[int](t)(e.GetLinkedPod(ctx, ns, "u", "game")); p != 2 {
		t.Fatalf("GetLinkedPod during grace period = %d, want 2", p)
	}
	if p := must[int](t)(e.GetLinkedPodIfPersist(ctx, ns, "u", "game")); p != -1 {
		t.Fatalf("GetLinkedPodIfPersist during grace period = %d, want -1", p)
	}
}

func TestRemoveLinkedPodWithID(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)
	link := "sf:{" + ns + ":lk:u}game"
	must[int](t)(e.SetLinkedPod(ctx, ns, "u", "game", 1, PersistForever))
	if ok := must[bool](t)(e.RemoveLinkedPodWithID(ctx, ns, "u", "game", 2, PersistForever)); ok {
		t.Fatal("RemoveLinkedPodWithID with other pod = true")
	}
	if v := raw.Get(ctx, link).Val(); v != "1" || !raw.HExists(ctx, "sf:{"+ns+":lk:u}", "game").Val() {
		t.Fatalf("link to other pod was touched: %q", v)
	}
	if ok := must[bool](t)(e.RemoveLinkedPodWithID(ctx, ns, "u", "game", 1, 10)); !ok {
		t.Fatal("RemoveLinkedPodWithID with its pod = false")
	}
	if d := ttl(t, raw, link); d <= 0 || d > 10*time.Second {
		t.Fatalf("grace TTL = %v, want ≤10s", d)
	}
	if ok := must[bool](t)(e.RemoveLinkedPodWithID(ctx, ns, "u", "game", 1, PersistForever)); !ok {
		t.Fatal("RemoveLinkedPodWithID during grace = false")
	}
	if raw.Exists(ctx, link).Val() != 0 {
		t.Fatal("link left after RemoveLinkedPodWithID(-1)")
	}
}

func TestGetLinkService(t *testing.T) {
	e, _, ns := newTestExecutor(t)
	ctx := testContext(t)
	if m := must[map[string]int](t)(e.GetLinkService(ctx, ns, "u")); m == nil || len(m) != 0 {
		t.Fatalf("GetLinkService empty = %#v", m)
	}
	must[int](t)(e.SetLinkedPod(ctx, ns, "u", "game", 1, PersistForever))
	must[int](t)(e.SetLinkedPod(ctx, ns, "u", "chat", 2, PersistForever))
	must[int](t)(e.SetLinkedPod(ctx, ns, "u", "temp", 3, 60))
	got := must[map[string]int](t)(e.GetLinkService(ctx, ns, "u"))
	if want := map[string]int{"game": 1, "chat": 2}; !maps.Equal(got, want) {
		t.Fatalf("GetLinkService = %v, want %v (temporary links excluded)", got, want)
	}
}

func TestComputeLinkedPod(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)
	now := time.Now()
	alive := 30 * time.Second

	if p := must[int](t)(e.ComputeLinkedPod(ctx, ns, "u", "game", alive, PersistForever)); p != -1 {
		t.Fatalf("ComputeLinkedPod without pods = %d, want -1", p)
	}
	if raw.Exists(ctx, "sf:{"+ns+":lk:u}game").Val() != 0 {
		t.Fatal("ComputeLinkedPod without pods wrote a link")
	}
	states := map[int]string{
		1: FormatPodState(5, now),
		2: FormatPodState(1, now.Add(-time.Hour)), // least loaded but stale
		3: FormatPodState(2, now),
		4: FormatPodState(2, now.Add(-5*time.Second)), // ties with 3, higher ID
		5: "garbage",
		6: FormatPodState(0, now.Add(-31*time.Second)), // just stale
	}
	for pod, s := range states {
		if err := e.SetServiceState(ctx, ns, "game", pod, s); err != nil {
			t.Fatal(err)
		}
	}
	if p := must[int](t)(e.ComputeLinkedPod(ctx, ns, "u", "game", alive, PersistForever)); p != 3 {
		t.Fatalf("ComputeLinkedPod = %d, want 3 (least-loaded live, lowest ID on ties)", p)
	}
	if v := raw.Get(ctx, "sf:{"+ns+":lk:u}game").Val(); v != "3" || ttl(t, raw, "sf:{"+ns+":lk:u}game") != -1 {
		t.Fatalf("ComputeLinkedPod link = %q, want persistent 3", v)
	}
	// An existing link wins, even if another pod is now less loaded.
	if err := e.SetServiceState(ctx, ns, "game", 7, FormatPodState(0, now)); err != nil {
		t.Fatal(err)
	}
	if p := must[int](t)(e.ComputeLinkedPod(ctx, ns, "u", "game", alive, PersistForever)); p != 3 {
		t.Fatalf("ComputeLinkedPod with existing link = %d, want 3", p)
	}
	if p := must[int](t)(e.ComputeLinkedPod(ctx, ns, "w", "game", alive, 60)); p != 7 {
		t.Fatalf("ComputeLinkedPod for new user = %d, want 7", p)
	}
	if d := ttl(t, raw, "sf:{"+ns+":lk:w}game"); d <= 0 {
		t.Fatalf("temporary computed link TTL = %v", d)
	}
}

// TestMillisecondHeartbeats: Java services of the same family write
// heartbeats in milliseconds. A pod whose millisecond heartbeat is an hour
// old is dead (read as seconds it was far in the future, and took every new
// user), one beating now in milliseconds is live beside pods beating in
// seconds.
func TestMillisecondHeartbeats(t *testing.T) {
	e, _, ns := newTestExecutor(t)
	ctx := testContext(t)
	now := time.Now()
	for pod, state := range map[int]string{
		1: "0-" + strconv.FormatInt(now.Add(-time.Hour).UnixMilli(), 10), // dead for an hour
		2: FormatPodState(5, now),                                        // seconds
		3: "3-" + strconv.FormatInt(now.UnixMilli(), 10),                 // milliseconds, live
	} {
		must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "game", pod, state))
	}
	for i := range 20 {
		if pod := must[int](t)(e.ComputeLinkedPod(ctx, ns, "u"+strconv.Itoa(i), "game", 30*time.Second, 60)); pod != 3 {
			t.Fatalf("user %d went to pod %d, want 3 (pod 1 is dead, pod 2 busier)", i, pod)
		}
	}
}

func TestChoosePod(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	ms := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).UnixMilli(), 10) }
	cases := []struct {
		name   string
		states map[int]string
		now    time.Time // now when zero
		want   int
	}{
		{"none", nil, time.Time{}, -1},
		{"unparsable", map[int]string{1: "x", 2: "1-"}, time.Time{}, -1},
		{"lowest ID on ties", map[int]string{1: "3-1700000000", 2: "3-1700000000", 0: "4-1700000000"}, time.Time{}, 1},
		// Split at the first '-', as Java: "-1-…" has an empty load and
		// is passed over (the Java compute script fails on it).
		{"negative load", map[int]string{9: "-1-1700000000", 1: "0-1700000000"}, time.Time{}, 1},
		{"31s old is stale, 30s is live", map[int]string{1: "0-1699999969", 2: "9-1699999970"}, time.Time{}, 2},
		// The threshold is in whole seconds: at 1700000000.9 a heartbeat
		// of 1699999970 is still exactly at it, and live.
		{"boundary in whole seconds", map[int]string{2: "9-1699999970"}, now.Add(900 * time.Millisecond), 2},
		{"future within the skew", map[int]string{1: "0-1700000060"}, time.Time{}, 1},
		{"future beyond the skew", map[int]string{1: "0-1700000061", 2: "5-1700000000"}, time.Time{}, 2},
		{"far future", map[int]string{1: "0-1800000000"}, time.Time{}, -1},
		// Milliseconds, by magnitude.
		{"milliseconds live", map[int]string{1: "0-" + ms(-29*time.Second), 2: "1-1700000000"}, time.Time{}, 1},
		{"milliseconds at the boundary", map[int]string{1: "0-" + ms(-30*time.Second)}, time.Time{}, 1},
		{"milliseconds 1 ms too old", map[int]string{1: "0-" + ms(-30*time.Second-time.Millisecond)}, time.Time{}, -1},
		{"milliseconds an hour old", map[int]string{1: "0-" + ms(-time.Hour), 2: "5-1700000000"}, time.Time{}, 2},
		{"milliseconds beyond the skew", map[int]string{1: "0-" + ms(MaxHeartbeatSkew+time.Millisecond)}, time.Time{}, -1},
		{"microseconds are never live", map[int]string{1: "0-" + strconv.FormatInt(now.UnixMicro(), 10)}, time.Time{}, -1},
	}
	for _, c := range cases {
		at := c.now
		if at.IsZero() {
			at = now
		}
		if got, _ := choosePod(c.states, at, 30*time.Second); got != c.want {
			t.Errorf("%s: choosePod(%v) = %d, want %d", c.name, c.states, got, c.want)
		}
	}
}

// TestPodStateFormat: FormatPodState never writes what the Java compute
// script fails on, and ParsePodState reads what either side writes.
func TestPodStateFormat(t *testing.T) {
	at := time.Unix(1_764_000_000, 0)
	for _, c := range []struct {
		load int
		at   time.Time
		want string
	}{
		{12, at, "12-1764000000"},
		{0, at, "0-1764000000"},
		{-3, at, "0-1764000000"}, // a negative load would fail Java's compute for the whole service
		{1, time.Unix(-5, 0), "1-0"},
		{1, time.Unix(1e12, 0), "1-99999999999"},
	} {
		if got := FormatPodState(c.load, c.at); got != c.want {
			t.Errorf("FormatPodState(%d, %d) = %q, want %q", c.load, c.at.Unix(), got, c.want)
		}
	}
	for _, c := range []struct {
		state string
		load  int
		beat  time.Time
	}{
		{"12-1764000000", 12, at},
		{"12-1764000000123", 12, time.UnixMilli(1764000000123)},
		{"007-1764000000", 7, at},
		{"3-1764000000-9", -1, time.Time{}}, // the heartbeat is "1764000000-9"
		{"-3-1764000000", -1, time.Time{}},
		{"+3-1764000000", -1, time.Time{}},
		{"3-+1764000000", -1, time.Time{}},
		{" 3-1764000000", -1, time.Time{}},
		{"3.5-1764000000", -1, time.Time{}},
		{"3-", -1, time.Time{}},
		{"-", -1, time.Time{}},
		{"3", -1, time.Time{}},
		{"99999999999999999999-1", -1, time.Time{}},
		{"1-99999999999999999999", -1, time.Time{}},
	} {
		load, beat, err := ParsePodState(c.state)
		if c.load < 0 {
			if err == nil {
				t.Errorf("ParsePodState(%q) = %d, %v; want an error", c.state, load, beat)
			}
			continue
		}
		if err != nil || load != c.load || !beat.Equal(c.beat) {
			t.Errorf("ParsePodState(%q) = %d, %v, %v; want %d, %v", c.state, load, beat, err, c.load, c.beat)
		}
	}
}

func TestScriptFlushReloads(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := srv.Client(t)
	var logs bytes.Buffer
	e, err := New(rdb, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	if err := e.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetLinkedPod(ctx, "ns", "u", "game", 1, PersistForever); err != nil {
		t.Fatal(err)
	}
	if s := e.ScriptStats(); s != (ScriptStats{Hits: 1}) {
		t.Fatalf("stats before flush = %+v", s)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	prev, err := e.SetLinkedPod(ctx, "ns", "u", "game", 2, PersistForever)
	if err != nil || prev != 1 {
		t.Fatalf("SetLinkedPod after SCRIPT FLUSH = %d, %v; want 1, nil", prev, err)
	}
	if s := e.ScriptStats(); s != (ScriptStats{Hits: 2, Misses: 1, Reloads: 1}) {
		t.Fatalf("stats after flush = %+v, want 2 hits, 1 miss, 1 reload", s)
	}
	// One warning for the reload, nothing for the ordinary calls.
	if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "level=WARN") ||
		!strings.Contains(logs.String(), "script=set_linked_pod.lua") {
		t.Fatalf("log = %q, want one warning naming the script", logs.String())
	}
}

// TestFirstUseSendsSource: a script this executor never loaded runs by EVAL,
// which caches it on the server, so the first call needs no NOSCRIPT round
// trip and later calls run by EVALSHA.
func TestFirstUseSendsSource(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := srv.Client(t)
	e, err := New(rdb)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	if n := rdb.ScriptExists(ctx, e.scripts.getIfPersist.sha).Val(); n[0] {
		t.Fatal("script loaded at New")
	}
	if _, err := e.GetLinkedPodIfPersist(ctx, "ns", "u", "game"); err != nil {
		t.Fatal(err)
	}
	if n := rdb.ScriptExists(ctx, e.scripts.getIfPersist.sha).Val(); !n[0] {
		t.Fatal("the first use did not leave the script cached")
	}
	if s := e.ScriptStats(); s != (ScriptStats{}) {
		t.Fatalf("stats after the first use = %+v, want none: EVAL is neither a hit nor a miss", s)
	}
	if _, err := e.GetLinkedPodIfPersist(ctx, "ns", "u", "game"); err != nil {
		t.Fatal(err)
	}
	if s := e.ScriptStats(); s != (ScriptStats{Hits: 1}) {
		t.Fatalf("stats = %+v, want one EVALSHA hit", s)
	}
}

func TestConcurrentNoScriptReloadsOnce(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 32})
	t.Cleanup(func() { _ = rdb.Close() })
	// The hook holds every NOSCRIPT reply until all n callers have one, so
	// all of them want a reload at the same moment. Sent directly: a reply
	// the autopipeliner's dispatcher read would be held in its goroutine,
	// and every command queued behind it, the reload too, would wait.
	const n = 16
	var seen atomic.Int32
	release := make(chan struct{})
	e, err := New(rdb, WithAutoPipelining(false))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	if err := e.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.AddHook(noScriptBarrier{seen: &seen, n: n, release: release})
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := e.GetLinkedPodIfPersist(ctx, "ns", "u", "game")
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if s := e.ScriptStats(); s != (ScriptStats{Hits: n, Misses: n, Reloads: 1}) {
		t.Fatalf("stats = %+v, want %d hits, %d misses, 1 reload", s, n, n)
	}
}

type noScriptBarrier struct {
	seen    *atomic.Int32
	n       int32
	release chan struct{}
}

func (noScriptBarrier) DialHook(next redis.DialHook) redis.DialHook { return next }
func (noScriptBarrier) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (b noScriptBarrier) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if contract.IsNoScript(err) {
			if b.seen.Add(1) == b.n {
				close(b.release)
			}
			select {
			case <-b.release:
			case <-time.After(10 * time.Second):
			}
		}
		return err
	}
}

func TestNewRejectsNilClient(t *testing.T) {
	for _, rdb := range []redis.UniversalClient{nil, (*redis.Client)(nil), (*redis.ClusterClient)(nil), (*redis.Ring)(nil)} {
		var ae *ArgumentError
		if _, err := New(rdb); !errors.As(err, &ae) || ae.Field != "rdb" {
			t.Errorf("New(%T(nil)) error = %v, want an ArgumentError for rdb", rdb, err)
		}
	}
}

// TestNewDoesNoIO: New returns at once even when Redis accepts connections
// and never answers; LoadScripts, which does talk to Redis, keeps its
// context's deadline.
func TestNewDoesNoIO(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() { // accept and never answer
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ReadTimeout: -1, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	start := time.Now()
	e, err := New(rdb)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("New took %v against a silent server", took)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	if err := e.LoadScripts(ctx); err == nil {
		t.Fatal("LoadScripts against a silent server succeeded")
	}
	if took := time.Since(start); took > 400*time.Millisecond {
		t.Errorf("LoadScripts took %v, its deadline was 200ms", took)
	}
}

func TestLoadScriptsFailsWhenRedisRefuses(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := srv.Client(t)
	srv.Kill()
	e, err := New(rdb)
	if err != nil {
		t.Fatalf("New against a dead server: %v; New must not talk to Redis", err)
	}
	if err := e.LoadScripts(testContext(t)); err == nil {
		t.Fatal("LoadScripts against a dead server succeeded")
	}
}

func TestClosedExecutor(t *testing.T) {
	e, _, ns := newTestExecutor(t)
	ctx := testContext(t)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetLinkedPod(ctx, ns, "u", "svc"); !errors.Is(err, ErrClosed) {
		t.Errorf("GetLinkedPod after Close: %v, want ErrClosed", err)
	}
	if err := e.LoadScripts(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("LoadScripts after Close: %v, want ErrClosed", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
