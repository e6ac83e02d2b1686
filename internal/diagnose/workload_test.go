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
// every second, workers log users in (ComputeLinkedPod), look them up
// (single and batch), read the services' workload states and log them out.
var services = [numServices]string{"lobby", "match", "chat"}

const numServices = 3

const (
	aliveWindow = 3 * time.Second
	graceSecs   = 5
	batchSize   = 16
	// livePods heartbeat; any further pods of a service (the large-state
	// scenario) are listed with a stale state, as after a scale-down.
	livePods = 8
)

type workload struct {
	exec    *otelexec.Executor
	ns      string
	pods    int // listed per service
	users   int
	workers int
	pace    time.Duration // a worker's pause between calls

	calls, errs atomic.Int64
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
		beat := time.NewTicker(time.Second)
		defer beat.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-beat.C:
				for _, svc := range services {
					for p := range min(w.pods, livePods) {
						w.count(w.exec.SetServiceState(opCtx, w.ns, svc, p, otelexec.FormatPodState(rand.IntN(50), now)))
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
	linked := make([][numServices]bool, len(owned))
	batch := make([]string, batchSize)
	for ctx.Err() == nil {
		i, s := rand.IntN(len(owned)), rand.IntN(len(services))
		u, svc := uid(owned[i]), services[s]
		switch r := rand.IntN(100); {
		case !linked[i][s]:
			_, err := w.exec.ComputeLinkedPod(opCtx, w.ns, u, svc, aliveWindow, -1)
			linked[i][s] = err == nil
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
			linked[i][s] = false
			w.count(err)
		}
		if w.pace > 0 {
			time.Sleep(w.pace)
		}
	}
}

func (w *workload) count(err error) {
	w.calls.Add(1)
	if err != nil {
		w.errs.Add(1)
	}
}
