package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/statefulroute/sfotel/otelexec"
)

// The simulated cluster: every service has the same number of pods; each
// user logs in to services, is looked up by routers, and logs out.
var services = []string{"lobby", "match", "chat"}

const (
	heartbeatEvery = time.Second
	// aliveWindow is how recent a heartbeat must be for ComputeLinkedPod to
	// pick the pod. Heartbeats carry whole seconds, so it spans several beats.
	aliveWindow = 3 * time.Second
	// graceSeconds keeps a logged-out user's link as a temporary one, so a
	// reconnect within it lands on the same pod.
	graceSeconds = 5
	// restartEvery takes one pod down for restartDowntime now and then:
	// its heartbeats stop and ComputeLinkedPod must stop choosing it.
	restartEvery    = 7 * time.Second
	restartDowntime = 2 * aliveWindow
	batchSize       = 16
	// persistent is the persistSeconds value that makes a link permanent.
	persistent = -1
)

// executor is the part of *otelexec.Executor the simulation calls.
type executor interface {
	SetServiceState(ctx context.Context, namespace, serviceName string, podID int, state string) error
	SetWorkloadState(ctx context.Context, namespace, serviceName, state string) error
	GetWorkloadStateBatch(ctx context.Context, namespace string, serviceNames []string) (map[string]string, error)
	ComputeLinkedPod(ctx context.Context, namespace, uid, serviceName string, aliveWithin time.Duration, persistSeconds int) (int, error)
	TrySetLinkedPod(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (bool, int, error)
	GetLinkedPod(ctx context.Context, namespace, uid, serviceName string) (int, error)
	BatchGetLinkedPod(ctx context.Context, namespace string, uids []string, serviceName string) (map[int][]string, error)
	RemoveLinkedPod(ctx context.Context, namespace, uid, serviceName string, persistSeconds int) (bool, error)
}

var _ executor = (*otelexec.Executor)(nil)

// workload runs the simulation. Worker w owns the users whose index is w
// modulo the number of workers, so a user's link changes only in one
// goroutine and every lookup can be checked against what that worker knows.
type workload struct {
	exec      executor
	log       *slog.Logger
	namespace string
	workers   int
	users     int
	pods      int

	load [][]atomic.Int64 // [service][pod]: users linked there now
	down [][]atomic.Bool  // [service][pod]: restarting, no heartbeats

	stats workloadStats
}

// workloadStats counts what the simulation did; the executor's own metrics
// count operations, these count the story they tell.
type workloadStats struct {
	calls      atomic.Int64 // executor calls made
	errors     atomic.Int64 // calls that returned an error
	logins     atomic.Int64
	reconnects atomic.Int64 // logins within the grace period, back on the same pod
	logouts    atomic.Int64
	lookups    atomic.Int64 // single and batch
	mismatches atomic.Int64 // a lookup disagreed with the link the worker made
	noLivePod  atomic.Int64 // ComputeLinkedPod found no live pod
	restarts   atomic.Int64
}

func newWorkload(exec executor, log *slog.Logger, namespace string, workers, users, pods int) *workload {
	w := &workload{exec: exec, log: log, namespace: namespace, workers: workers, users: users, pods: pods}
	w.load = make([][]atomic.Int64, len(services))
	w.down = make([][]atomic.Bool, len(services))
	for s := range services {
		w.load[s] = make([]atomic.Int64, pods)
		w.down[s] = make([]atomic.Bool, pods)
	}
	return w
}

func uid(i int) string { return "user-" + strconv.Itoa(i) }

// run drives the simulation until ctx is done. Executor calls use a context
// that ctx's cancellation does not reach: the simulation stops between calls,
// never in the middle of one, so a clean stop costs no canceled operations
// and the final counts match in every exporter. go-redis's own timeouts still
// bound each call.
func (w *workload) run(ctx context.Context) {
	opCtx := context.WithoutCancel(ctx)
	// Pods announce themselves before the first login, so ComputeLinkedPod
	// has live pods to choose from.
	w.heartbeat(opCtx, time.Now())

	var wg sync.WaitGroup
	wg.Go(func() { w.heartbeats(ctx, opCtx) })
	for id := range w.workers {
		wg.Go(func() { w.worker(ctx, opCtx, id) })
	}
	wg.Wait()
}

// heartbeats is the pods' side: each live pod reports "<load>-<ts>" every
// second, each service its workload state, and now and then a pod restarts.
func (w *workload) heartbeats(ctx, opCtx context.Context) {
	beat := time.NewTicker(heartbeatEvery)
	defer beat.Stop()
	restart := time.NewTicker(restartEvery)
	defer restart.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-beat.C:
			w.heartbeat(opCtx, now)
		case <-restart.C:
			s, p := rand.IntN(len(services)), rand.IntN(w.pods)
			if w.pods > 1 && w.down[s][p].CompareAndSwap(false, true) {
				w.stats.restarts.Add(1)
				time.AfterFunc(restartDowntime, func() { w.down[s][p].Store(false) })
			}
		}
	}
}

func (w *workload) heartbeat(ctx context.Context, now time.Time) {
	for s, svc := range services {
		var total int64
		for p := range w.pods {
			load := w.load[s][p].Load()
			total += load
			if w.down[s][p].Load() {
				continue
			}
			w.call(w.exec.SetServiceState(ctx, w.namespace, svc, p, otelexec.FormatPodState(int(load), now)))
		}
		w.call(w.exec.SetWorkloadState(ctx, w.namespace, svc, workloadLevel(total, w.users)))
	}
}

// workloadLevel turns a service's share of online users into the state a
// router would read before sending more users there.
func workloadLevel(online int64, users int) string {
	switch share := float64(online) / float64(users); {
	case share > 0.8:
		return "full"
	case share > 0.5:
		return "busy"
	default:
		return "normal"
	}
}

// session is what a worker knows about one user in one service.
type session struct {
	pod        int       // -1 when logged out
	graceUntil time.Time // after a logout: until when the link stays temporary
}

func (w *workload) worker(ctx, opCtx context.Context, id int) {
	var owned []int
	for u := id; u < w.users; u += w.workers {
		owned = append(owned, u)
	}
	sessions := make([][]session, len(owned))
	for i := range sessions {
		sessions[i] = make([]session, len(services))
		for s := range sessions[i] {
			sessions[i][s].pod = -1
		}
	}
	batch := make([]string, batchSize)
	for ctx.Err() == nil {
		i, s := rand.IntN(len(owned)), rand.IntN(len(services))
		u, sess := owned[i], &sessions[i][s]
		if sess.pod < 0 {
			w.login(opCtx, u, s, sess)
			continue
		}
		switch r := rand.IntN(100); {
		case r < 70:
			w.lookup(opCtx, u, s, sess.pod)
		case r < 80:
			for j := range batch {
				batch[j] = uid(rand.IntN(w.users))
			}
			_, err := w.exec.BatchGetLinkedPod(opCtx, w.namespace, batch, services[s])
			w.stats.lookups.Add(1)
			w.call(err)
		case r < 88:
			_, err := w.exec.GetWorkloadStateBatch(opCtx, w.namespace, services)
			w.call(err)
		default:
			w.logout(opCtx, u, s, sess)
		}
	}
}

// login routes the user to the least-loaded live pod. Within the grace
// period of a logout the temporary link still exists and wins, so the user
// returns to the same pod; TrySetLinkedPod then makes that link permanent
// again (if it had just expired, ComputeLinkedPod made a permanent one and
// TrySetLinkedPod confirms it).
func (w *workload) login(ctx context.Context, u, s int, sess *session) {
	pod, err := w.exec.ComputeLinkedPod(ctx, w.namespace, uid(u), services[s], aliveWindow, persistent)
	if w.call(err) {
		return
	}
	if pod < 0 {
		w.stats.noLivePod.Add(1)
		return
	}
	if time.Now().Before(sess.graceUntil) {
		ok, current, err := w.exec.TrySetLinkedPod(ctx, w.namespace, uid(u), services[s], pod, persistent)
		if w.call(err) {
			return
		}
		if !ok || current != pod {
			w.mismatch("TrySetLinkedPod", u, s, pod, current)
		}
		w.stats.reconnects.Add(1)
	}
	sess.pod, sess.graceUntil = pod, time.Time{}
	w.load[s][pod].Add(1)
	w.stats.logins.Add(1)
}

func (w *workload) lookup(ctx context.Context, u, s, want int) {
	got, err := w.exec.GetLinkedPod(ctx, w.namespace, uid(u), services[s])
	w.stats.lookups.Add(1)
	if !w.call(err) && got != want {
		w.mismatch("GetLinkedPod", u, s, want, got)
	}
}

func (w *workload) logout(ctx context.Context, u, s int, sess *session) {
	existed, err := w.exec.RemoveLinkedPod(ctx, w.namespace, uid(u), services[s], graceSeconds)
	if w.call(err) {
		return
	}
	if !existed {
		w.mismatch("RemoveLinkedPod", u, s, sess.pod, -1)
	}
	w.load[s][sess.pod].Add(-1)
	// A little over the grace period: a login before then may find the
	// temporary link still there, and must make it permanent again.
	sess.pod, sess.graceUntil = -1, time.Now().Add(graceSeconds*time.Second+time.Second)
	w.stats.logouts.Add(1)
}

// call counts one executor call and reports whether it failed. The first few
// errors are logged; the rest only counted, so a dead Redis cannot flood the terminal.
func (w *workload) call(err error) bool {
	w.stats.calls.Add(1)
	if err == nil {
		return false
	}
	if n := w.stats.errors.Add(1); n <= 3 {
		w.log.Error("executor call failed", "err", err)
	}
	return true
}

func (w *workload) mismatch(op string, u, s, want, got int) {
	if n := w.stats.mismatches.Add(1); n <= 3 {
		w.log.Error("routing inconsistency", "op", op, "user", uid(u), "service", services[s], "want_pod", want, "got_pod", got)
	}
}

// summary is one line for the end of the run.
func (st *workloadStats) summary() string {
	return fmt.Sprintf("%d calls, %d errors, %d logins (%d reconnects within the grace period), %d logouts, %d lookups, %d pod restarts, %d logins without a live pod, %d routing inconsistencies",
		st.calls.Load(), st.errors.Load(), st.logins.Load(), st.reconnects.Load(), st.logouts.Load(),
		st.lookups.Load(), st.restarts.Load(), st.noLivePod.Load(), st.mismatches.Load())
}
