package reliability

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/javatest"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
)

// The mixed fleet: a Java executor (the test double in internal/javatest,
// written from what is known of the Java scripts) and the sfotel executor
// take turns at random on the same users and services of one Redis, for
// thousands of steps. Each step is one operation by one side on one user's
// link to one service; the test reads that link straight from Redis before
// and after it (hash field, link key, TTL) and checks:
//
//   - sfotel's answer is exactly what docs/java.md says for the stored state
//     (the hash field is the persistent link and wins; a link key without
//     TTL is persistent), and so is what it leaves in Redis;
//   - no conditional operation (ComputeLinkedPod, SetLinkedPodIfAbsent,
//     TrySetLinkedPod) of one side moves a user whose link the other side
//     wrote. The Java compute script reads only the hash field, so it
//     passes over temporary links by design: for Java's compute only
//     persistent links are protected (docs/java.md says so);
//   - after every write, the other side's reads agree with what was
//     written: sfotel's GetLinkedPod, GetLinkedPodIfPersist,
//     BatchGetLinkedPod and ComputeLinkedPod after a Java write, and Java's
//     GetLinkedPod, GetLinkedPodIfPersist, GetLinkService and compute after
//     an sfotel write;
//   - every so often, an audit reads every link of every user through both
//     sides' batch reads and compares them with Redis.
//
// Pods heartbeat in seconds (written by sfotel) or milliseconds (by the
// Java family); "lobby" mixes both, and the Java compute threshold there is
// in milliseconds, so the two sides pick different pods for new users. The
// run is seeded (FLEET_SEED=<n> replays one) and single-threaded, so a
// failure replays exactly.

const (
	fleetTemporary = 600              // seconds: temporary links outlive the run
	fleetAlive     = 10 * time.Minute // liveness window: live heartbeats are < 1 min old, dead ones 1 h
)

type fleetPod struct {
	id     int
	millis bool // heartbeats in milliseconds (a Java-family pod)
	load   int
	dead   bool
}

type fleetService struct {
	name         string
	javaMillis   bool // the Java compute threshold's unit
	pods         []*fleetPod
	javaVisible  func(p *fleetPod) bool
	sfotelChoice int
}

// linkSnap is one user's link to one service as Redis holds it.
type linkSnap struct {
	field, value       string
	hasField, hasValue bool
	pttl               time.Duration // -1: no TTL; -2: no key
}

func (s linkSnap) eff() int {
	switch {
	case s.hasField:
		return atoi(s.field)
	case s.hasValue:
		return atoi(s.value)
	}
	return -1
}

func (s linkSnap) persistent() bool { return s.hasField || s.hasValue && s.pttl == -1 }

func (s linkSnap) String() string {
	f, v := "-", "-"
	if s.hasField {
		f = s.field
	}
	if s.hasValue {
		v = s.value
	}
	return fmt.Sprintf("{field %s, key %s, pttl %v}", f, v, s.pttl)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -100 // never a pod of the fleet
	}
	return n
}

func readSnap(ctx context.Context, tb testing.TB, rdb *redis.Client, ns, uid, svc string) linkSnap {
	tb.Helper()
	p := rdb.Pipeline()
	field := p.HGet(ctx, linkHashKey(ns, uid), svc)
	value := p.Get(ctx, linkKey(ns, uid, svc))
	pttl := p.PTTL(ctx, linkKey(ns, uid, svc))
	_, _ = p.Exec(ctx)
	var s linkSnap
	var err error
	if s.field, err = field.Result(); err == nil {
		s.hasField = true
	} else if err != redis.Nil {
		tb.Fatal(err)
	}
	if s.value, err = value.Result(); err == nil {
		s.hasValue = true
	} else if err != redis.Nil {
		tb.Fatal(err)
	}
	d, err := pttl.Result()
	if err != nil {
		tb.Fatal(err)
	}
	// go-redis reports -1 and -2 as nanoseconds.
	switch d {
	case -1, -1 * time.Millisecond:
		s.pttl = -1
	case -2, -2 * time.Millisecond:
		s.pttl = -2
	default:
		s.pttl = d
	}
	return s
}

func fleetSeed(tb testing.TB) uint64 {
	if v := os.Getenv("FLEET_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			tb.Fatalf("FLEET_SEED=%q: %v", v, err)
		}
		return n
	}
	return rand.Uint64()
}

func TestMixedFleet(t *testing.T) {
	steps := 10_000 // about 2 s
	if raceEnabled || testing.Short() {
		steps = 3000 // about 2 s under -race
	}
	seed := fleetSeed(t)
	t.Logf("seed %d (replay with FLEET_SEED=%d), %d steps", seed, seed, steps)
	r := rand.New(rand.NewPCG(seed, 0))

	rdb := redistest.Client(t)
	ns := redistest.Namespace(t)
	tel := newTelemetry(t)
	e := startExecutor(t, rdb, tel.options()...)
	t.Cleanup(func() { _ = e.Close() })
	j := javatest.New(rdb)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	uids := []string{"u0", "u1", "u2", "u3", "u4", "u5", "player:7", "x*?[", "ü-9", "u10"}
	newPods := func(millis func(i int) bool) []*fleetPod {
		var ps []*fleetPod
		for i, id := range []int{0, 1, 2, 5, 11, 40} {
			ps = append(ps, &fleetPod{id: id, millis: millis(i)})
		}
		return ps
	}
	services := []*fleetService{
		{name: "game", javaMillis: true, pods: newPods(func(int) bool { return true })},
		{name: "chat", javaMillis: false, pods: newPods(func(int) bool { return false })},
		{name: "lobby", javaMillis: true, pods: newPods(func(i int) bool { return i%2 == 0 })},
	}
	for _, s := range services {
		s.javaVisible = func(p *fleetPod) bool { return !p.dead && p.millis == s.javaMillis }
	}

	writeState := func(s *fleetService, p *fleetPod) {
		beat := time.Now().Add(-time.Duration(r.IntN(60)) * time.Second)
		if p.dead {
			beat = time.Now().Add(-time.Hour)
		}
		var err error
		if p.millis { // a Java-family pod: the Java side writes it
			err = j.SetServiceState(ctx, ns, s.name, p.id, strconv.Itoa(p.load)+"-"+strconv.FormatInt(beat.UnixMilli(), 10))
		} else {
			err = e.SetServiceState(ctx, ns, s.name, p.id, otelexec.FormatPodState(p.load, beat))
		}
		if err != nil {
			t.Fatalf("seed %d: pod state: %v", seed, err)
		}
	}
	for _, s := range services {
		for _, p := range s.pods {
			p.load = r.IntN(10)
			writeState(s, p)
		}
	}
	javaThreshold := func(s *fleetService) int64 {
		if s.javaMillis {
			return time.Now().Add(-fleetAlive).UnixMilli()
		}
		return time.Now().Add(-fleetAlive).Unix()
	}
	// sfotelPick is ComputeLinkedPod's choice: the lowest load among live
	// pods in either unit, lowest ID on ties.
	sfotelPick := func(s *fleetService) int {
		best := (*fleetPod)(nil)
		for _, p := range s.pods {
			if !p.dead && (best == nil || p.load < best.load || p.load == best.load && p.id < best.id) {
				best = p
			}
		}
		if best == nil {
			return -1
		}
		return best.id
	}
	// javaLoads are the loads of the pods the Java compute sees alive.
	javaMinLoad := func(s *fleetService) (int, bool) {
		m, ok := 0, false
		for _, p := range s.pods {
			if s.javaVisible(p) && (!ok || p.load < m) {
				m, ok = p.load, true
			}
		}
		return m, ok
	}
	podOf := func(s *fleetService, id int) *fleetPod {
		for _, p := range s.pods {
			if p.id == id {
				return p
			}
		}
		return nil
	}

	type key struct{ uid, svc string }
	owner := map[key]string{} // the side that last changed the link
	var counts struct {
		ops, writes, crossReads, protected, overJavaFieldOnly, disagreements, javaComputeWrites, sfotelOverJava, audits int
	}
	fail := func(step int, format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d step %d: %s", seed, step, fmt.Sprintf(format, args...))
	}
	check := func(step int, what string, err error) {
		t.Helper()
		if err != nil {
			fail(step, "%s: %v", what, err)
		}
	}
	persistOf := func() int {
		if r.IntN(2) == 0 {
			return otelexec.PersistForever
		}
		return fleetTemporary
	}
	// written checks that after holds a link to pod, persistent or not.
	written := func(step int, what string, after linkSnap, pod, persist int) {
		t.Helper()
		p := strconv.Itoa(pod)
		ok := after.hasValue && after.value == p
		if persist == otelexec.PersistForever {
			ok = ok && after.hasField && after.field == p && after.pttl == -1
		} else {
			ok = ok && !after.hasField && after.pttl > 0
		}
		if !ok {
			fail(step, "%s: Redis holds %v, want a link to %d with persist %d", what, after, pod, persist)
		}
	}

	for step := range steps {
		s := services[r.IntN(len(services))]
		if r.IntN(12) == 0 { // a pod reports: its load changes, it dies or comes back
			p := s.pods[r.IntN(len(s.pods))]
			p.load, p.dead = r.IntN(10), r.IntN(5) == 0
			writeState(s, p)
			continue
		}
		if step%97 == 96 {
			counts.audits++
			fleetAudit(ctx, t, seed, step, e, j, rdb, ns, uids, s.name)
			continue
		}
		uid := uids[r.IntN(len(uids))]
		k := key{uid, s.name}
		before := readSnap(ctx, t, rdb, ns, uid, s.name)
		if before.hasField && before.hasValue && before.field != before.value {
			counts.disagreements++
		}
		javaSide := r.IntN(2) == 0
		side := "sfotel"
		if javaSide {
			side = "java"
		}
		pod := s.pods[r.IntN(len(s.pods))].id
		persist := persistOf()
		counts.ops++

		var (
			op          string
			conditional bool // ComputeLinkedPod, IfAbsent, TrySet
			claimed     = -1 // the pod the user is linked to after a write, -1 none
			removed     bool // an sfotel removal found its link
		)
		if !javaSide && before.hasField && !before.hasValue {
			counts.overJavaFieldOnly++
		}
		if !javaSide && owner[k] == "java" {
			counts.sfotelOverJava++
		}
		switch r.IntN(10) {
		case 0, 1: // compute
			op, conditional = "ComputeLinkedPod", true
			if javaSide {
				got, err := j.ComputeLinkedPod(ctx, ns, uid, s.name, javaThreshold(s))
				check(step, "java compute", err)
				switch m, ok := javaMinLoad(s); {
				case before.hasField:
					if got != atoi(before.field) {
						fail(step, "java compute = %d over field %s", got, before.field)
					}
				case !ok:
					if got != -1 {
						fail(step, "java compute = %d with no pod alive for Java", got)
					}
				default:
					if p := podOf(s, got); p == nil || !s.javaVisible(p) || p.load != m {
						fail(step, "java compute = %d, not a least-loaded (%d) pod Java sees alive", got, m)
					}
				}
				claimed = got
			} else {
				got, err := e.ComputeLinkedPod(ctx, ns, uid, s.name, fleetAlive, persist)
				check(step, "ComputeLinkedPod", err)
				want := before.eff()
				if want < 0 {
					want = sfotelPick(s)
				}
				if got != want {
					fail(step, "ComputeLinkedPod = %d over %v, want %d", got, before, want)
				}
				claimed = got
			}
		case 2:
			op = "SetLinkedPod"
			if javaSide {
				_, err := j.SetLinkedPod(ctx, ns, uid, s.name, pod, persist)
				check(step, "java set", err)
			} else {
				prev, err := e.SetLinkedPod(ctx, ns, uid, s.name, pod, persist)
				check(step, "SetLinkedPod", err)
				if prev != before.eff() {
					fail(step, "SetLinkedPod previous = %d over %v", prev, before)
				}
			}
			claimed = pod
		case 3:
			op, conditional = "TrySetLinkedPod", true
			if javaSide {
				ok, cur, err := j.TrySetLinkedPod(ctx, ns, uid, s.name, pod, persist)
				check(step, "java try", err)
				if ok {
					claimed = pod
				} else {
					claimed = cur
				}
			} else {
				ok, cur, err := e.TrySetLinkedPod(ctx, ns, uid, s.name, pod, persist)
				check(step, "TrySetLinkedPod", err)
				refused := before.eff() >= 0 && before.persistent() && before.eff() != pod
				if ok == refused || !ok && cur != before.eff() || ok && cur != pod {
					fail(step, "TrySetLinkedPod(%d) = %v, %d over %v", pod, ok, cur, before)
				}
				claimed = cur
			}
		case 4:
			op, conditional = "SetLinkedPodIfAbsent", true
			if javaSide {
				cur, err := j.SetLinkedPodIfAbsent(ctx, ns, uid, s.name, pod, persist)
				check(step, "java if-absent", err)
				claimed = cur
			} else {
				cur, err := e.SetLinkedPodIfAbsent(ctx, ns, uid, s.name, pod, persist)
				check(step, "SetLinkedPodIfAbsent", err)
				want := before.eff()
				if want < 0 {
					want = pod
				}
				if cur != want {
					fail(step, "SetLinkedPodIfAbsent(%d) = %d over %v", pod, cur, before)
				}
				claimed = cur
			}
		case 5:
			op = "RemoveLinkedPod"
			if javaSide {
				_, err := j.RemoveLinkedPod(ctx, ns, uid, s.name, persist)
				check(step, "java remove", err)
			} else {
				ok, err := e.RemoveLinkedPod(ctx, ns, uid, s.name, persist)
				check(step, "RemoveLinkedPod", err)
				if ok != (before.eff() >= 0) {
					fail(step, "RemoveLinkedPod = %v over %v", ok, before)
				}
				removed = true // with or without a link, nothing is left but a grace link
				if persist != otelexec.PersistForever {
					claimed = before.eff() // the grace period keeps it
				}
			}
		case 6:
			op = "RemoveLinkedPodWithID"
			target := pod
			if r.IntN(2) == 0 && before.eff() >= 0 {
				target = before.eff()
			}
			if javaSide {
				_, err := j.RemoveLinkedPodWithID(ctx, ns, uid, s.name, persist, target)
				check(step, "java remove with id", err)
			} else {
				ok, err := e.RemoveLinkedPodWithID(ctx, ns, uid, s.name, target, persist)
				check(step, "RemoveLinkedPodWithID", err)
				if ok != (before.eff() == target) {
					fail(step, "RemoveLinkedPodWithID(%d) = %v over %v", target, ok, before)
				}
				removed, claimed = ok, before.eff()
				if ok && persist == otelexec.PersistForever {
					claimed = -1
				}
			}
		default: // reads
			op = "read"
			if javaSide {
				got, err := j.GetLinkedPod(ctx, ns, uid, s.name)
				check(step, "java get", err)
				if want := map[bool]int{true: atoi(before.value), false: -1}[before.hasValue]; got != want {
					fail(step, "java GetLinkedPod = %d over %v", got, before)
				}
			} else {
				got, err := e.GetLinkedPod(ctx, ns, uid, s.name)
				check(step, "GetLinkedPod", err)
				if got != before.eff() {
					fail(step, "GetLinkedPod = %d over %v", got, before)
				}
				persistent, err := e.GetLinkedPodIfPersist(ctx, ns, uid, s.name)
				check(step, "GetLinkedPodIfPersist", err)
				if want := map[bool]int{true: before.eff(), false: -1}[before.persistent()]; persistent != want {
					fail(step, "GetLinkedPodIfPersist = %d over %v, want %d", persistent, before, want)
				}
			}
		}
		after := readSnap(ctx, t, rdb, ns, uid, s.name)
		changed := !sameLink(before, after)
		if op == "read" && changed {
			fail(step, "a %s read changed the link: %v → %v", side, before, after)
		}

		// sfotel leaves exactly what the docs say.
		if !javaSide {
			switch op {
			case "ComputeLinkedPod", "SetLinkedPodIfAbsent", "TrySetLinkedPod":
				if changed {
					written(step, op, after, claimed, persist)
				} else if claimed != before.eff() {
					fail(step, "%s answered %d but left %v", op, claimed, after)
				}
			case "SetLinkedPod":
				written(step, op, after, claimed, persist)
			case "RemoveLinkedPod", "RemoveLinkedPodWithID":
				switch {
				case !removed:
					if changed {
						fail(step, "%s that removed nothing changed %v to %v", op, before, after)
					}
				case claimed < 0:
					if after.hasField || after.hasValue {
						fail(step, "%s(persist %d) left %v", op, persist, after)
					}
				default: // a grace period: a temporary link to the same pod
					if after.hasField || !after.hasValue || after.value != strconv.Itoa(claimed) || after.pttl <= 0 {
						fail(step, "%s(persist %d) left %v over %v, want a temporary link to %d", op, persist, after, before, claimed)
					}
				}
			}
		}

		// No conditional operation moves a user the other side linked.
		if conditional && before.eff() >= 0 && owner[k] != "" && owner[k] != side {
			protected := true
			switch {
			case javaSide && op == "ComputeLinkedPod":
				protected = before.hasField // Java's compute reads the field only
			case op == "TrySetLinkedPod":
				protected = before.persistent() && pod != before.eff()
			}
			if protected {
				counts.protected++
				if after.eff() != before.eff() || claimed != before.eff() {
					fail(step, "%s %s moved a user %s linked: %v → %v (answered %d)", side, op, owner[k], before, after, claimed)
				}
			}
		}

		if !changed {
			continue
		}
		counts.writes++
		owner[k] = side
		if javaSide && op == "ComputeLinkedPod" {
			counts.javaComputeWrites++
		}
		if javaSide && (op == "RemoveLinkedPod" || op == "RemoveLinkedPodWithID") {
			claimed = -1 // Java removes at once
		}
		// The other side reads what was written.
		counts.crossReads++
		persistentAfter := after.persistent()
		if javaSide {
			got, err := e.GetLinkedPod(ctx, ns, uid, s.name)
			check(step, "GetLinkedPod after a Java write", err)
			if got != claimed {
				fail(step, "after java %s (→ %d), sfotel GetLinkedPod = %d; Redis %v", op, claimed, got, after)
			}
			ifp, err := e.GetLinkedPodIfPersist(ctx, ns, uid, s.name)
			check(step, "GetLinkedPodIfPersist after a Java write", err)
			if want := map[bool]int{true: claimed, false: -1}[persistentAfter]; ifp != want {
				fail(step, "after java %s (→ %d), sfotel GetLinkedPodIfPersist = %d, want %d; Redis %v", op, claimed, ifp, want, after)
			}
			batch, err := e.BatchGetLinkedPod(ctx, ns, []string{uid}, s.name)
			check(step, "BatchGetLinkedPod after a Java write", err)
			if claimed >= 0 && !slices.Equal(batch[claimed], []string{uid}) || claimed < 0 && len(batch) != 0 {
				fail(step, "after java %s (→ %d), sfotel BatchGetLinkedPod = %v", op, claimed, batch)
			}
			if claimed >= 0 {
				got, err := e.ComputeLinkedPod(ctx, ns, uid, s.name, fleetAlive, persist)
				check(step, "ComputeLinkedPod after a Java write", err)
				if again := readSnap(ctx, t, rdb, ns, uid, s.name); got != claimed || !sameLink(again, after) {
					fail(step, "after java %s (→ %d), sfotel ComputeLinkedPod = %d and left %v", op, claimed, got, again)
				}
			}
		} else {
			got, err := j.GetLinkedPod(ctx, ns, uid, s.name)
			check(step, "java get after an sfotel write", err)
			if got != claimed {
				fail(step, "after sfotel %s (→ %d), java GetLinkedPod = %d; Redis %v", op, claimed, got, after)
			}
			ifp, err := j.GetLinkedPodIfPersist(ctx, ns, uid, s.name)
			check(step, "java if-persist after an sfotel write", err)
			if want := map[bool]int{true: claimed, false: -1}[persistentAfter]; ifp != want {
				fail(step, "after sfotel %s (→ %d), java GetLinkedPodIfPersist = %d, want %d", op, claimed, ifp, want)
			}
			links, err := j.GetLinkService(ctx, ns, uid)
			check(step, "java link service after an sfotel write", err)
			if p, ok := links[s.name]; ok != persistentAfter || ok && p != claimed {
				fail(step, "after sfotel %s (→ %d, persistent %v), java GetLinkService = %v", op, claimed, persistentAfter, links)
			}
			if persistentAfter {
				got, err := j.ComputeLinkedPod(ctx, ns, uid, s.name, javaThreshold(s))
				check(step, "java compute after an sfotel write", err)
				if got != claimed {
					fail(step, "after sfotel %s (→ %d, persistent), java compute = %d", op, claimed, got)
				}
			}
		}
	}
	t.Logf("%d operations, %d writes, %d cross-side read checks, %d protected links held, %d audits; "+
		"%d Java compute writes, %d sfotel calls over a Java-only hash field, %d over a Java-written link, %d steps over a field and key that disagree",
		counts.ops, counts.writes, counts.crossReads, counts.protected, counts.audits,
		counts.javaComputeWrites, counts.overJavaFieldOnly, counts.sfotelOverJava, counts.disagreements)
	// The run must have met the cases it is about.
	for name, n := range map[string]int{
		"Java compute writes": counts.javaComputeWrites, "sfotel calls over a Java-only field": counts.overJavaFieldOnly,
		"protected links": counts.protected, "disagreeing field and key": counts.disagreements, "audits": counts.audits,
	} {
		if n < 3 {
			t.Errorf("the run met %s only %d times; it proves nothing about them", name, n)
		}
	}
}

// fleetAudit reads every user's link to svc through both sides' batch reads
// and single reads, and compares them with Redis.
func fleetAudit(ctx context.Context, t *testing.T, seed uint64, step int, e *otelexec.Executor, j *javatest.Executor, rdb *redis.Client, ns string, uids []string, svc string) {
	t.Helper()
	wantSfotel, wantJava := map[int][]string{}, map[int][]string{}
	for _, uid := range uids {
		s := readSnap(ctx, t, rdb, ns, uid, svc)
		if p := s.eff(); p >= 0 {
			wantSfotel[p] = append(wantSfotel[p], uid)
		}
		if s.hasValue {
			wantJava[atoi(s.value)] = append(wantJava[atoi(s.value)], uid)
		}
	}
	got, err := e.BatchGetLinkedPod(ctx, ns, uids, svc)
	if err != nil {
		t.Fatalf("seed %d step %d: audit: %v", seed, step, err)
	}
	gotJava, err := j.BatchGetLinkedPod(ctx, ns, uids, svc)
	if err != nil {
		t.Fatalf("seed %d step %d: audit: %v", seed, step, err)
	}
	for _, m := range []map[int][]string{wantSfotel, wantJava, got, gotJava} {
		for _, us := range m {
			slices.Sort(us)
		}
	}
	if !maps.EqualFunc(got, wantSfotel, slices.Equal) {
		t.Fatalf("seed %d step %d: audit of %s: sfotel BatchGetLinkedPod = %v, Redis says %v", seed, step, svc, got, wantSfotel)
	}
	if !maps.EqualFunc(gotJava, wantJava, slices.Equal) {
		t.Fatalf("seed %d step %d: audit of %s: java BatchGetLinkedPod = %v, Redis says %v", seed, step, svc, gotJava, wantJava)
	}
}

// sameLink compares two snapshots, the TTL's presence but not its value.
func sameLink(a, b linkSnap) bool {
	return a.hasField == b.hasField && a.field == b.field && a.hasValue == b.hasValue && a.value == b.value && (a.pttl == -1) == (b.pttl == -1)
}
