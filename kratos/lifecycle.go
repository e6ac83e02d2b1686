package sfkratos

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-kratos/kratos/v2"
)

// Lifecycle ties the executor, its Redis client and sfotel's telemetry to a
// Kratos app: Start runs before the servers start (kratos.BeforeStart), Stop
// after they have stopped (kratos.AfterStop), so no request runs before the
// executor is ready or after the telemetry is gone, and the spans and
// metrics of the last requests are flushed.
//
//	lc, err := sfkratos.NewLifecycle(
//		sfkratos.WithTelemetry(tel), sfkratos.WithInstrumentation(inst),
//		sfkratos.WithExecutor(exec), sfkratos.WithRedisClient(rdb),
//		sfkratos.WithStopTimeout(10*time.Second))
//	app := kratos.New(append(lc.Options(), kratos.Name("router"), kratos.Server(hs, gs))...)
type Lifecycle struct {
	cfg      config
	stopOnce sync.Once
	stopErr  error
}

// NewLifecycle returns a Lifecycle for the parts given as options. It does
// no I/O. An invalid option value is an error naming the option.
func NewLifecycle(opts ...Option) (*Lifecycle, error) {
	l := &Lifecycle{cfg: config{stopTimeout: DefaultStopTimeout}}
	for _, o := range opts {
		if o != nil {
			o(&l.cfg)
		}
	}
	if l.cfg.err != nil {
		return nil, l.cfg.err
	}
	return l, nil
}

// Options returns the kratos.App options that run Start before the servers
// and Stop after them, and kratos.StopTimeout with the Lifecycle's stop
// timeout. Give them to kratos.New before any option of your own that
// should win.
func (l *Lifecycle) Options() []kratos.Option {
	return []kratos.Option{
		kratos.BeforeStart(l.Start),
		kratos.AfterStop(l.Stop),
		kratos.StopTimeout(l.cfg.stopTimeout),
	}
}

// Start checks, within ctx, that Redis answers (a PING on the client given
// with WithRedisClient) and loads the executor's Lua scripts (LoadScripts on
// the executor given with WithExecutor), so a Redis that refuses them fails
// the start, not the first request. An error keeps Kratos from starting the servers;
// kratos.App.Run then returns it without running AfterStop hooks, so call
// Stop yourself in that case (Stop is safe to call more than once).
func (l *Lifecycle) Start(ctx context.Context) error {
	if l.cfg.rdb != nil {
		if err := l.cfg.rdb.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("sfkratos: Lifecycle.Start: redis: %w", err)
		}
	}
	if l.cfg.executor != nil {
		if err := l.cfg.executor.LoadScripts(ctx); err != nil {
			return fmt.Errorf("sfkratos: Lifecycle.Start: %w", err)
		}
	}
	return nil
}

// Stop shuts everything down, in this order: the telemetry (its final flush
// still sees the executor's and the pool's gauges), the executor, the Redis
// instrumentation, the Redis client. It takes at most the stop timeout.
//
// Kratos hands AfterStop hooks the app's context, which App.Stop has
// already canceled; Stop therefore keeps ctx's values but not its
// cancellation (context.WithoutCancel) and sets its own deadline, or the
// final flush would be abandoned at once and the last spans lost.
//
// Only the first call does anything; later calls return its result. The
// errors of the parts are joined.
func (l *Lifecycle) Stop(ctx context.Context) error {
	l.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.stopTimeout)
		defer cancel()
		c, errs := l.cfg, []error(nil)
		stop := func(part string, given bool, f func() error) {
			if given {
				if err := f(); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", part, err))
				}
			}
		}
		stop("telemetry", c.telemetry != nil, func() error { return c.telemetry.Shutdown(ctx) })
		stop("executor", c.executor != nil, c.executor.Close)
		stop("redis instrumentation", c.inst != nil, c.inst.Close)
		stop("redis client", c.rdb != nil, func() error { return c.rdb.Close() })
		if len(errs) > 0 {
			l.stopErr = fmt.Errorf("sfkratos: Lifecycle.Stop: %w", errors.Join(errs...))
		}
	})
	return l.stopErr
}
