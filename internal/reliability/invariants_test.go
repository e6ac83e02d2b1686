package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
)

// snapshotScript reads one user's hash and each service's link key with its
// TTL in one atomic step, so a verifier sees a state that really existed.
// KEYS[1] = the user's hash; KEYS[2..] = the link keys, in ARGV order.
// ARGV = the service names. Returns, per service: {hash field or false,
// link value or false, PTTL}.
var snapshotScript = redis.NewScript(`
local out = {}
for i, svc in ipairs(ARGV) do
  out[i] = {redis.call('HGET', KEYS[1], svc), redis.call('GET', KEYS[i+1]), redis.call('PTTL', KEYS[i+1])}
end
return out
`)

// linkInvariant checks one atomic snapshot of a user: a persistent link (no
// TTL) is in the user's hash with the same pod; a temporary link (TTL) is not
// in the hash; a hash field never exists without its link key. It returns a
// description of each violation.
func linkInvariant(ctx context.Context, rdb redis.Scripter, ns, uid string, services []string) ([]string, error) {
	keys := []string{linkHashKey(ns, uid)}
	argv := make([]any, len(services))
	for i, svc := range services {
		keys = append(keys, linkKey(ns, uid, svc))
		argv[i] = svc
	}
	res, err := snapshotScript.Run(ctx, rdb, keys, argv...).Slice()
	if err != nil {
		return nil, err
	}
	var bad []string
	for i, row := range res {
		r := row.([]any)
		field, _ := r[0].(string)
		link, _ := r[1].(string)
		pttl, _ := r[2].(int64)
		svc := services[i]
		switch {
		case link == "" && field != "":
			bad = append(bad, fmt.Sprintf("%s/%s: hash field %s without a link key", uid, svc, field))
		case link != "" && pttl == -1 && field != link:
			bad = append(bad, fmt.Sprintf("%s/%s: persistent link %s but hash field %q", uid, svc, link, field))
		case link != "" && pttl > 0 && field != "":
			bad = append(bad, fmt.Sprintf("%s/%s: temporary link %s (pttl %d) but hash field %q", uid, svc, link, pttl, field))
		}
	}
	return bad, nil
}

// TestLinkInvariantsUnderContention runs 64 goroutines mixing SetLinkedPod,
// TrySetLinkedPod, ComputeLinkedPod and RemoveLinkedPodWithID, with
// persistent and temporary links, on 6 uids × 2 services. A verifier takes
// atomic snapshots of every user throughout the run, and once more at the
// end together with a scan of every key; no snapshot may break the invariant.
func TestLinkInvariantsUnderContention(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := serverClient(t, srv.Addr, 64)
	e := newExecutor(t, rdb)
	ctx := context.Background()
	ns := "rel.inv"
	services := []string{"chat", "game"}
	uids := []string{"u0", "u1", "u:2", "u*3", "u?4", "u[5"}
	for _, svc := range services {
		for pod := range 4 {
			if err := e.SetServiceState(ctx, ns, svc, pod, otelexec.FormatPodState(pod*10, time.Now())); err != nil {
				t.Fatal(err)
			}
		}
	}

	const (
		workers = 64
		opsEach = 150
	)
	var (
		wg       sync.WaitGroup
		failures atomic.Int64
		firstErr atomic.Value
		counts   [4]atomic.Int64
	)
	for w := range workers {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			for range opsEach {
				uid := uids[rng.IntN(len(uids))]
				svc := services[rng.IntN(len(services))]
				pod := rng.IntN(4)
				persist := -1
				if rng.IntN(2) == 0 {
					persist = 30 + rng.IntN(30)
				}
				kind := rng.IntN(4)
				var err error
				switch kind {
				case 0:
					_, err = e.SetLinkedPod(ctx, ns, uid, svc, pod, persist)
				case 1:
					_, _, err = e.TrySetLinkedPod(ctx, ns, uid, svc, pod, persist)
				case 2:
					_, err = e.ComputeLinkedPod(ctx, ns, uid, svc, time.Minute, persist)
				case 3:
					_, err = e.RemoveLinkedPodWithID(ctx, ns, uid, svc, pod, persist)
				}
				counts[kind].Add(1)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}(w)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	snapshots := 0
	var violations []string
	verify := func() {
		for _, uid := range uids {
			bad, err := linkInvariant(ctx, rdb, ns, uid, services)
			if err != nil {
				t.Fatalf("snapshot: %v", err)
			}
			snapshots++
			violations = append(violations, bad...)
		}
	}
loop:
	for {
		select {
		case <-done:
			break loop
		default:
			verify()
		}
	}
	verify()
	t.Logf("ops: set %d, try %d, compute %d, remove %d; %d atomic snapshots checked",
		counts[0].Load(), counts[1].Load(), counts[2].Load(), counts[3].Load(), snapshots)
	if n := failures.Load(); n > 0 {
		t.Errorf("%d operations failed; first: %v", n, firstErr.Load())
	}
	if len(violations) > 0 {
		t.Errorf("%d invariant violations; first: %q", len(violations), violations[:min(5, len(violations))])
	}

	// Final scan: every key of the namespace is a known state key, a user
	// hash whose fields all have their link key, or a link key.
	keys, err := redistest.Keys(ctx, rdb, ns)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, svc := range services {
		known[stateKey(ns, svc)] = true
		for _, uid := range uids {
			known[linkHashKey(ns, uid)] = true
			known[linkKey(ns, uid, svc)] = true
		}
	}
	for _, k := range keys {
		if !known[k] {
			t.Errorf("unexpected key %q", k)
		}
	}
	for _, uid := range uids {
		fields, err := rdb.HGetAll(ctx, linkHashKey(ns, uid)).Result()
		if err != nil {
			t.Fatal(err)
		}
		for svc, pod := range fields {
			if _, err := strconv.Atoi(pod); err != nil || !strings.Contains(strings.Join(services, ","), svc) {
				t.Errorf("user %s hash has field %q = %q", uid, svc, pod)
			}
		}
	}
}
