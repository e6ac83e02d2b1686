package diagnose

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/statefulroute/sfotel/otelexec"
)

// The routing workload of examples/quickstart, compacted: pods heartbeat
// their load (the users linked to them) every beatEvery, workers log users
// in (ComputeLinkedPod), look them up (single and batch), route them again
// when they reconnect (RouteLinkedPod), read the services' workload states
// and log them out.
var services = [numServices]string{"lobby", "match", "chat"}

const numServices = 3

const (
	aliveWindow = 3 * time.Second
	graceSecs   = 5
	batchSize   = 16
	// livePods heartbeat; any further pods of a service (the large-state
	// scenario) are listed with a stale state, as after a scale-down.
	livePods = 8
	// beatEvery is the pods' heartbeat period: a quarter of a second, so
	// that logins between two heartbeats, which all go to the pod that
	// reported the least load, do not pile up on one pod.
	beatEvery = 250 * time.Millisecond
)

type workload struct {
	exec    *otelexec.Executor
	ns      string
	pods    int // listed per service
	users   int
	workers int
	pace    time.Duration // a worker's pause between calls

	calls, errs atomic.Int64
	// loads are the users linked to each live pod, as the pods report them.
	loads  [numServices][livePods]atomic.Int64
	faults atomic.Pointer[faults]
}

// faults are the routing causes a scenario injects into the workload.
type faults struct {
	// beat is the heartbeat a pod writes at now; false: it writes none.
	beat func(svc string, pod int, now time.Time) (time.Time, bool)
	// pin is the pod a gateway links a new user of svc to past
	// ComputeLinkedPod (SetLinkedPod); -1: none.
	pin func(svc string) int
}

// link moves a user's count from pod from to pod to (-1: none).
func (w *workload) link(s, from, to int) {
	if from >= 0 && from < livePods {
		w.loads[s][from].Add(-1)
	}
	if to >= 0 && to < livePods {
		w.loads[s][to].Add(1)
	}
}

func uid(i int) string { return "user-" + strconv.Itoa(i) }

// prepare lists every pod once; only the first livePods keep beating.
func (w *workload) prepare(ctx context.Context) error {
	stale := time.Now().Add(-time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, len(services))
	for _, svc := range services {
		wg.Go(func() {
			for p := range w.pods {
				at := stale
				if p < livePods {
					at = time.Now()
				}
				if err := w.exec.SetServiceState(ctx, w.ns, svc, p, otelexec.FormatPodState(0, at)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// run drives the workload until ctx ends; calls run to completion.
func (w *workload) run(ctx context.Context) {
	opCtx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		beat := time.NewTicker(beatEvery)
		defer beat.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-beat.C:
				f := w.faults.Load()
				for s, svc := range services {
					for p := range min(w.pods, livePods) {
						at, ok := now, true
						if f != nil && f.beat != nil {
							at, ok = f.beat(svc, p, now)
						}
						if ok {
							w.count(w.exec.SetServiceState(opCtx, w.ns, svc, p, otelexec.FormatPodState(int(w.loads[s][p].Load()), at)))
						}
					}
					w.count(w.exec.SetWorkloadState(opCtx, w.ns, svc, "normal"))
				}
			}
		}
	})
	for id := range w.workers {
		wg.Go(func() { w.worker(ctx, opCtx, id) })
	}
	wg.Wait()
}

func (w *workload) worker(ctx, opCtx context.Context, id int) {
	var owned []int
	for u := id; u < w.users; u += w.workers {
		owned = append(owned, u)
	}
	linked := make([][numServices]int, len(owned)) // the user's pod + 1; 0: not linked
	batch := make([]string, batchSize)
	for ctx.Err() == nil {
		i, s := rand.IntN(len(owned)), rand.IntN(len(services))
		u, svc := uid(owned[i]), services[s]
		switch r := rand.IntN(100); {
		case linked[i][s] == 0:
			pod, err := w.login(opCtx, u, svc)
			if err == nil && pod >= 0 {
				w.link(s, -1, pod)
				linked[i][s] = pod + 1
			}
			w.count(err)
		case r < 10: // a reconnect
			pod, _, err := w.exec.RouteLinkedPod(opCtx, w.ns, u, svc, aliveWindow, -1)
			if err == nil && pod >= 0 && pod != linked[i][s]-1 {
				w.link(s, linked[i][s]-1, pod)
				linked[i][s] = pod + 1
			}
			w.count(err)
		case r < 70:
			_, err := w.exec.GetLinkedPod(opCtx, w.ns, u, svc)
			w.count(err)
		case r < 80:
			for j := range batch {
				batch[j] = uid(rand.IntN(w.users))
			}
			_, err := w.exec.BatchGetLinkedPod(opCtx, w.ns, batch, svc)
			w.count(err)
		case r < 88:
			_, err := w.exec.GetWorkloadStateBatch(opCtx, w.ns, services[:])
			w.count(err)
		default:
			_, err := w.exec.RemoveLinkedPod(opCtx, w.ns, u, svc, graceSecs)
			w.link(s, linked[i][s]-1, -1)
			linked[i][s] = 0
			w.count(err)
		}
		if w.pace > 0 {
			time.Sleep(w.pace)
		}
	}
}

// login links a user: to the least-loaded live pod, or to the pod a
// pinning gateway chose.
func (w *workload) login(ctx context.Context, u, svc string) (int, error) {
	if f := w.faults.Load(); f != nil && f.pin != nil {
		if pod := f.pin(svc); pod >= 0 {
			_, err := w.exec.SetLinkedPod(ctx, w.ns, u, svc, pod, -1)
			return pod, err
		}
	}
	return w.exec.ComputeLinkedPod(ctx, w.ns, u, svc, aliveWindow, -1)
}

func (w *workload) count(err error) {
	w.calls.Add(1)
	if err != nil {
		w.errs.Add(1)
	}
}
