package otelexec

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
)

// The Java executor's compute script links a user by writing the field of
// the user's link hash alone, with no link key. These tests store exactly
// that and check that every operation sees it as the user's persistent
// link and never silently replaces it (docs/java.md).

// javaLink stores a link as the Java compute script does: HSET of the hash
// field only.
func javaLink(t *testing.T, raw *redis.Client, ns, uid, svc string, pod string) {
	t.Helper()
	if err := raw.HSet(context.Background(), linkHashKey(ns, uid), svc, pod).Err(); err != nil {
		t.Fatal(err)
	}
}

// linkState is what Redis holds for one user's link to one service.
type linkState struct {
	field, value string        // "" when absent
	ttl          time.Duration // of the link key: -1 none, -2 no key
}

func readLinkState(t *testing.T, raw *redis.Client, ns, uid, svc string) linkState {
	t.Helper()
	ctx := context.Background()
	var s linkState
	s.field = raw.HGet(ctx, linkHashKey(ns, uid), svc).Val()
	s.value = raw.Get(ctx, linkKey(ns, uid, svc)).Val()
	s.ttl = ttl(t, raw, linkKey(ns, uid, svc))
	return s
}

// TestJavaLinkIsSeenByEveryRead: a hash field alone is the user's
// persistent link for every read.
func TestJavaLinkIsSeenByEveryRead(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)
	javaLink(t, raw, ns, "u", "game", "6")
	if p := must[int](t)(e.GetLinkedPod(ctx, ns, "u", "game")); p != 6 {
		t.Errorf("GetLinkedPod = %d, want 6", p)
	}
	if p := must[int](t)(e.GetLinkedPodIfPersist(ctx, ns, "u", "game")); p != 6 {
		t.Errorf("GetLinkedPodIfPersist = %d, want 6: a hash field is a persistent link", p)
	}
	got := must[map[int][]string](t)(e.BatchGetLinkedPod(ctx, ns, []string{"u", "none", "u"}, "game"))
	if want := map[int][]string{6: {"u", "u"}}; !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("BatchGetLinkedPod = %v, want %v", got, want)
	}
	if links := must[map[string]int](t)(e.GetLinkService(ctx, ns, "u")); !maps.Equal(links, map[string]int{"game": 6}) {
		t.Errorf("GetLinkService = %v", links)
	}
	// ComputeLinkedPod honours it, though pod 1 is alive and idle.
	must[struct{}](t)(struct{}{}, e.SetServiceState(ctx, ns, "game", 1, FormatPodState(0, time.Now())))
	if p := must[int](t)(e.ComputeLinkedPod(ctx, ns, "u", "game", time.Minute, PersistForever)); p != 6 {
		t.Errorf("ComputeLinkedPod = %d, want 6, the Java-computed link", p)
	}
	if s := readLinkState(t, raw, ns, "u", "game"); s != (linkState{field: "6", ttl: -2}) {
		t.Errorf("after the reads, Redis holds %+v; the reads must not write", s)
	}
}

// TestJavaLinkIsHonouredByEveryWrite: the write scripts see the field
// alone as a persistent link: IfAbsent and TrySet keep it, SetLinkedPod
// reports it as the previous pod, the removals find it.
func TestJavaLinkIsHonouredByEveryWrite(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)
	hashOnly := linkState{field: "6", ttl: -2}

	javaLink(t, raw, ns, "a", "game", "6")
	if p := must[int](t)(e.SetLinkedPodIfAbsent(ctx, ns, "a", "game", 2, PersistForever)); p != 6 {
		t.Errorf("SetLinkedPodIfAbsent = %d, want 6", p)
	}
	if s := readLinkState(t, raw, ns, "a", "game"); s != hashOnly {
		t.Errorf("SetLinkedPodIfAbsent changed the Java link: %+v", s)
	}
	for _, persist := range []int{PersistForever, 60} {
		ok, cur, err := e.TrySetLinkedPod(ctx, ns, "a", "game", 2, persist)
		if err != nil || ok || cur != 6 {
			t.Errorf("TrySetLinkedPod(2, %d) = %v, %d, %v; want false, 6", persist, ok, cur, err)
		}
	}
	if s := readLinkState(t, raw, ns, "a", "game"); s != hashOnly {
		t.Errorf("TrySetLinkedPod changed the Java link: %+v", s)
	}
	// The same pod with a TTL: the link becomes temporary, as in Java.
	if ok, cur, err := e.TrySetLinkedPod(ctx, ns, "a", "game", 6, 60); err != nil || !ok || cur != 6 {
		t.Errorf("TrySetLinkedPod(6, 60) = %v, %d, %v; want true, 6", ok, cur, err)
	}
	if s := readLinkState(t, raw, ns, "a", "game"); s.field != "" || s.value != "6" || s.ttl <= 0 {
		t.Errorf("after TrySetLinkedPod of the same pod with a TTL: %+v, want a temporary link to 6", s)
	}

	javaLink(t, raw, ns, "b", "game", "6")
	if p := must[int](t)(e.SetLinkedPod(ctx, ns, "b", "game", 3, PersistForever)); p != 6 {
		t.Errorf("SetLinkedPod previous = %d, want 6", p)
	}
	if s := readLinkState(t, raw, ns, "b", "game"); s != (linkState{field: "3", value: "3", ttl: -1}) {
		t.Errorf("after SetLinkedPod: %+v", s)
	}

	javaLink(t, raw, ns, "c", "game", "6")
	if ok := must[bool](t)(e.RemoveLinkedPodWithID(ctx, ns, "c", "game", 5, PersistForever)); ok {
		t.Error("RemoveLinkedPodWithID of another pod = true")
	}
	if s := readLinkState(t, raw, ns, "c", "game"); s != hashOnly {
		t.Errorf("RemoveLinkedPodWithID of another pod touched the link: %+v", s)
	}
	if ok := must[bool](t)(e.RemoveLinkedPodWithID(ctx, ns, "c", "game", 6, PersistForever)); !ok {
		t.Error("RemoveLinkedPodWithID of the Java link = false")
	}
	if s := readLinkState(t, raw, ns, "c", "game"); s != (linkState{ttl: -2}) {
		t.Errorf("after RemoveLinkedPodWithID(-1): %+v", s)
	}

	javaLink(t, raw, ns, "d", "game", "6")
	if ok := must[bool](t)(e.RemoveLinkedPod(ctx, ns, "d", "game", PersistForever)); !ok {
		t.Error("RemoveLinkedPod of the Java link = false")
	}
	if s := readLinkState(t, raw, ns, "d", "game"); s != (linkState{ttl: -2}) {
		t.Errorf("after RemoveLinkedPod(-1): %+v", s)
	}
}

// TestJavaLinkGracePeriod: RemoveLinkedPod and RemoveLinkedPodWithID with a
// grace period keep a link that was only a hash field reachable, as a
// temporary link, for the grace time, and then it is gone.
func TestJavaLinkGracePeriod(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)
	remove := map[string]func(uid string) (bool, error){
		"RemoveLinkedPod":       func(uid string) (bool, error) { return e.RemoveLinkedPod(ctx, ns, uid, "game", 1) },
		"RemoveLinkedPodWithID": func(uid string) (bool, error) { return e.RemoveLinkedPodWithID(ctx, ns, uid, "game", 6, 1) },
	}
	for name, rm := range remove {
		javaLink(t, raw, ns, name, "game", "6")
		if ok, err := rm(name); err != nil || !ok {
			t.Fatalf("%s = %v, %v; want true", name, ok, err)
		}
		if p := must[int](t)(e.GetLinkedPod(ctx, ns, name, "game")); p != 6 {
			t.Errorf("%s: GetLinkedPod during the grace period = %d, want 6", name, p)
		}
		if p := must[int](t)(e.GetLinkedPodIfPersist(ctx, ns, name, "game")); p != -1 {
			t.Errorf("%s: GetLinkedPodIfPersist during the grace period = %d, want -1", name, p)
		}
		if s := readLinkState(t, raw, ns, name, "game"); s.field != "" || s.value != "6" || s.ttl <= 0 || s.ttl > time.Second {
			t.Errorf("%s: during the grace period Redis holds %+v, want a temporary link to 6 for 1s", name, s)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for name := range remove {
		for must[int](t)(e.GetLinkedPod(ctx, ns, name, "game")) != -1 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the link outlived its 1s grace period by 4s", name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestHashFieldWinsOverLinkKey: where the hash field and the link key
// disagree (the Java compute script linked the user over a temporary link,
// writing only the field), the field wins for every operation.
func TestHashFieldWinsOverLinkKey(t *testing.T) {
	e, raw, ns := newTestExecutor(t)
	ctx := testContext(t)
	disagree := func(uid string) {
		t.Helper()
		must[int](t)(e.SetLinkedPod(ctx, ns, uid, "game", 2, 600)) // temporary link to 2
		javaLink(t, raw, ns, uid, "game", "7")                     // Java computes 7 over it
	}
	disagree("u")
	if p := must[int](t)(e.GetLinkedPod(ctx, ns, "u", "game")); p != 7 {
		t.Errorf("GetLinkedPod = %d, want 7", p)
	}
	if p := must[int](t)(e.GetLinkedPodIfPersist(ctx, ns, "u", "game")); p != 7 {
		t.Errorf("GetLinkedPodIfPersist = %d, want 7", p)
	}
	if got := must[map[int][]string](t)(e.BatchGetLinkedPod(ctx, ns, []string{"u"}, "game")); !slices.Equal(got[7], []string{"u"}) || len(got) != 1 {
		t.Errorf("BatchGetLinkedPod = %v, want 7: [u]", got)
	}
	if p := must[int](t)(e.SetLinkedPodIfAbsent(ctx, ns, "u", "game", 2, 600)); p != 7 {
		t.Errorf("SetLinkedPodIfAbsent = %d, want 7", p)
	}
	if ok, cur, err := e.TrySetLinkedPod(ctx, ns, "u", "game", 2, 600); err != nil || ok || cur != 7 {
		t.Errorf("TrySetLinkedPod(2) = %v, %d, %v; want false, 7", ok, cur, err)
	}
	if ok := must[bool](t)(e.RemoveLinkedPodWithID(ctx, ns, "u", "game", 2, PersistForever)); ok {
		t.Error("RemoveLinkedPodWithID(2) = true; the user's link is 7")
	}
	if s := readLinkState(t, raw, ns, "u", "game"); s.field != "7" || s.value != "2" {
		t.Errorf("the disagreeing link was changed: %+v", s)
	}
	// A grace period keeps the pod the user is on, 7.
	if ok := must[bool](t)(e.RemoveLinkedPod(ctx, ns, "u", "game", 30)); !ok {
		t.Error("RemoveLinkedPod = false")
	}
	if s := readLinkState(t, raw, ns, "u", "game"); s.field != "" || s.value != "7" || s.ttl <= 0 {
		t.Errorf("after RemoveLinkedPod(30): %+v, want a temporary link to 7", s)
	}
	disagree("v")
	if p := must[int](t)(e.SetLinkedPod(ctx, ns, "v", "game", 3, PersistForever)); p != 7 {
		t.Errorf("SetLinkedPod previous = %d, want 7", p)
	}
}

// TestWritesTreatBadLinkValuesAsAbsent: a link value that is not a pod ID
// is no link for the write scripts too: they replace or clear it and count
// it, and none fails.
func TestWritesTreatBadLinkValuesAsAbsent(t *testing.T) {
	in, logs, ns := newLogged(t)
	ctx := testContext(t)
	raw := redistest.Client(t)
	bad := func(uid string, field bool) {
		t.Helper()
		if err := raw.Set(ctx, linkKey(ns, uid, "game"), "alice@example.com", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if field {
			javaLink(t, raw, ns, uid, "game", "0x10")
		}
	}
	bad("a", true)
	if p := must[int](t)(in.SetLinkedPodIfAbsent(ctx, ns, "a", "game", 4, PersistForever)); p != 4 {
		t.Errorf("SetLinkedPodIfAbsent over bad values = %d, want 4", p)
	}
	if s := readLinkState(t, raw, ns, "a", "game"); s != (linkState{field: "4", value: "4", ttl: -1}) {
		t.Errorf("after SetLinkedPodIfAbsent: %+v", s)
	}
	bad("b", false)
	if ok, cur, err := in.TrySetLinkedPod(ctx, ns, "b", "game", 4, 60); err != nil || !ok || cur != 4 {
		t.Errorf("TrySetLinkedPod over a bad value = %v, %d, %v", ok, cur, err)
	}
	bad("c", true)
	if p := must[int](t)(in.SetLinkedPod(ctx, ns, "c", "game", 4, 60)); p != -1 {
		t.Errorf("SetLinkedPod previous of bad values = %d, want -1", p)
	}
	bad("d", true)
	if p := must[int](t)(in.GetLinkedPodIfPersist(ctx, ns, "d", "game")); p != -1 {
		t.Errorf("GetLinkedPodIfPersist of bad values = %d, want -1", p)
	}
	if ok := must[bool](t)(in.RemoveLinkedPodWithID(ctx, ns, "d", "game", 16, 30)); ok {
		t.Error("RemoveLinkedPodWithID(16) of 0x10 = true; 0x10 is not a pod ID")
	}
	if ok := must[bool](t)(in.RemoveLinkedPod(ctx, ns, "d", "game", 30)); ok {
		t.Error("RemoveLinkedPod of bad values = true")
	}
	if s := readLinkState(t, raw, ns, "d", "game"); s != (linkState{ttl: -2}) {
		t.Errorf("RemoveLinkedPod left %+v; it clears what is not a link", s)
	}
	bad("e", false)
	must[struct{}](t)(struct{}{}, in.SetServiceState(ctx, ns, "game", 9, FormatPodState(0, time.Now())))
	if p := must[int](t)(in.ComputeLinkedPod(ctx, ns, "e", "game", time.Minute, PersistForever)); p != 9 {
		t.Errorf("ComputeLinkedPod over a bad value = %d, want 9", p)
	}
	// a: 2, b: 1, c: 2, d: 2 + 2 + 2, e: 1 (GET) + 1 (the script).
	if n := skippedCount(t, in, contract.SkipLinkValue); n != 2+1+2+6+2 {
		t.Errorf("skipped{kind=link_value} = %d, want 13", n)
	}
	for _, l := range logLines(logs.String(), "skipped stored data") {
		if containsAnyString(l, "alice", "0x10", linkKey(ns, "a", "game")) {
			t.Errorf("log line carries a stored value or key: %s", l)
		}
	}
}

func containsAnyString(s string, needles ...string) bool {
	for _, n := range needles {
		if n != "" && strings.Contains(s, n) {
			return true
		}
	}
	return false
}
