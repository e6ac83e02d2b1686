package main

import (
	"context"
	"errors"
	"time"

	"github.com/go-kratos/kratos/v2/log"

	"github.com/statefulroute/sfotel/examples/kratos/internal/conf"
	"github.com/statefulroute/sfotel/otelexec"
)

// heartbeats stands in for the pods: in production each game server reports
// its own load; here the router reports conf.pods pods with a load that
// follows the users linked to them, so ComputeLinkedPod has live pods to
// choose from. Without heartbeats every pod's state grows older than
// alive_within and Login answers NO_LIVE_POD.
//
// It is a Kratos transport.Server: the app starts it with the others and
// stops it before AfterStop closes the executor.
type heartbeats struct {
	exec *otelexec.Executor
	conf *conf.Router
	log  *log.Helper
	stop chan struct{}
	done chan struct{}
}

func newHeartbeats(exec *otelexec.Executor, c *conf.Router, logger log.Logger) *heartbeats {
	return &heartbeats{exec: exec, conf: c, log: log.NewHelper(logger), stop: make(chan struct{}), done: make(chan struct{})}
}

// beat writes every pod's state once.
func (h *heartbeats) beat(ctx context.Context) error {
	var errs []error
	now := time.Now()
	for pod := range int(h.conf.GetPods()) {
		// A fixed load per pod is enough for a demonstration: pod 0 is the
		// least loaded, so it takes new users while it is alive.
		state := otelexec.FormatPodState(pod*10, now)
		if err := h.exec.SetServiceState(ctx, h.conf.GetNamespace(), h.conf.GetDefaultService(), pod, state); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Start beats every heartbeat interval until Stop.
func (h *heartbeats) Start(context.Context) error {
	defer close(h.done)
	t := time.NewTicker(h.conf.GetHeartbeat().AsDuration())
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return nil
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), h.conf.GetHeartbeat().AsDuration())
			if err := h.beat(ctx); err != nil {
				// The executor's spans and metrics already count the failure;
				// one line tells the operator why pods may look dead.
				h.log.Warnw("msg", "pod heartbeat failed", "error_type", otelexec.ErrorType(err))
			}
			cancel()
		}
	}
}

// Stop ends Start and waits for it, at most until ctx is done.
func (h *heartbeats) Stop(ctx context.Context) error {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	select {
	case <-h.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
