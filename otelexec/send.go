package otelexec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/contract"
)

// autoPipelineMinInFlight is the number of the executor's commands in
// flight, this one included, from which a command is autopipelined.
var autoPipelineMinInFlight int64 = 2 // a variable so that tests can pipeline a lone caller too

// sender sends the executor's commands, directly or autopipelined, and
// resends them where go-redis would (send).
type sender struct {
	rdb      redis.UniversalClient
	ap       *redis.AutoPipeliner // nil with WithAutoPipelining(false)
	inFlight atomic.Int64
	spans    bool // WithRedisCommandSpans
	retries  int  // the resends the client allows (client.retries)
	cluster  bool // rdb is a ClusterClient (sendPipeline)
}

// newSender returns the executor's sender over rdb, autopipelined if on
// and the client has a pipeliner to give (not closed, of a known type).
func newSender(rdb redis.UniversalClient, cl client, on bool, spans bool) *sender {
	s := &sender{rdb: rdb, spans: spans, retries: max(cl.retries, 0), cluster: cl.cluster}
	if on && cl.pipeliner != nil {
		s.ap, _ = cl.pipeliner(autoPipelineOptions())
	}
	return s
}

// begin counts a command in flight and returns the pipeliner to send it
// through, or nil to send it directly. end must follow.
func (s *sender) begin() *redis.AutoPipeliner {
	n := s.inFlight.Add(1)
	if s.ap == nil || n < autoPipelineMinInFlight || s.spans {
		return nil
	}
	return s.ap
}

func (s *sender) end() { s.inFlight.Add(-1) }

// do sends one command and waits for it, at most until ctx ends. It
// returns the command's error; when ctx ended first it returns the
// context's error, and the command, still queued, must not be read.
func (s *sender) do(ctx context.Context, cmd redis.Cmder) error {
	_, err := s.process(ctx, cmd)
	return err
}

// write sends a write as do sends a command, and wraps a failure after
// which it may have been applied (maybeSent, on any attempt) in
// ErrOutcomeUnknown.
func (s *sender) write(ctx context.Context, cmd redis.Cmder) error {
	if err := ctx.Err(); err != nil {
		return err // never sent
	}
	sent, err := s.process(ctx, cmd)
	if err != nil && sent {
		return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
	}
	return err
}

// process sends one command, through the pipeliner on its first attempt
// when begin says so, and says whether a failed attempt may have reached
// Redis.
func (s *sender) process(ctx context.Context, cmd redis.Cmder) (sent bool, err error) {
	once := cmd.NoRetry() // a link script, wrapped already
	if !once {
		cmd = noRetry{cmd}
	}
	ap := s.begin()
	defer s.end()
	return s.send(ctx, once, func() error {
		if ap == nil {
			return s.rdb.Process(ctx, cmd)
		}
		_, err := wait(ctx, ap.Submit(ctx, cmd))
		ap = nil // a resend goes directly
		return err
	})
}

// pair sends two reads, and a third unless c is nil, on one round trip and
// waits for them, as do waits.
func (s *sender) pair(ctx context.Context, a *redis.StringCmd, b, c redis.Cmder) error {
	ap := s.begin()
	defer s.end()
	// Not sendPipeline: a closure would cost an allocation a lookup.
	for n := 0; ; n++ {
		err := s.pairOnce(ctx, ap, a, b, c)
		ap = nil // a resend goes directly
		if s.cluster || !s.again(ctx, n, false, err) {
			return err
		}
	}
}

// pairOnce is one attempt of pair, through ap unless it is nil.
func (s *sender) pairOnce(ctx context.Context, ap *redis.AutoPipeliner, a *redis.StringCmd, b, c redis.Cmder) error {
	if ap == nil {
		// One NoRetry command keeps go-redis from resending the pipeline.
		p := s.rdb.Pipeline()
		_ = p.Process(ctx, noRetryString{a}) // boxed for free
		_ = p.Process(ctx, b)
		if c != nil {
			_ = p.Process(ctx, c)
		}
		_, err := p.Exec(ctx)
		return err
	}
	futures := [3]redis.AutoFuture{ap.Submit(ctx, noRetryString{a}), ap.Submit(ctx, noRetry{b})}
	n := 2
	if c != nil {
		futures[2], n = ap.Submit(ctx, noRetry{c}), 3
	}
	var errs [3]error
	for i, f := range futures[:n] {
		abandoned, err := wait(ctx, f)
		if abandoned {
			return err
		}
		errs[i] = err
	}
	for _, err := range errs {
		if resendable(err) {
			return err
		}
	}
	return errors.Join(errs[:]...)
}

// send runs attempt, and again, at most s.retries more times with go-redis's
// backoff, while a resend may cure it: Redis refused it unrun, or, unless
// once, the connection broke or timed out after its dial. The executor
// resends rather than go-redis (noRetry), because go-redis resends after a
// failed dial too, after its pool has dialled DialerRetries times already:
// with nothing listening a command took 1.7 s and a pipeline 3.3 s, the
// caller's whole deadline. sent says whether a failed attempt may have
// reached Redis.
func (s *sender) send(ctx context.Context, once bool, attempt func() error) (sent bool, err error) {
	for n := 0; ; n++ {
		err = attempt()
		sent = sent || err != nil && maybeSent(err)
		if !s.again(ctx, n, once, err) {
			return sent, err
		}
	}
}

// again reports whether attempt n, which failed with err, is to be run
// again, after go-redis's backoff.
func (s *sender) again(ctx context.Context, n int, once bool, err error) bool {
	if err == nil || n >= s.retries || !refusedUnrun(err) && (once || !resendable(err) || dialFailed(err)) {
		return false
	}
	return sleep(ctx, retryBackoff(n)) == nil
}

// sendPipeline is send for a pipeline; a ClusterClient resends one itself,
// whatever its commands' NoRetry says.
func (s *sender) sendPipeline(ctx context.Context, attempt func() error) error {
	if s.cluster {
		return attempt()
	}
	_, err := s.send(ctx, false, attempt)
	return err
}

// refusedUnrun reports whether err is a reply by which Redis refused a
// command without running it: the replies contract classes unavailable.
func refusedUnrun(err error) bool { return contract.Classify(err) == contract.ErrorUnavailable }

// retryBackoff grows from 8 ms to 512 ms, as go-redis's does.
func retryBackoff(attempt int) time.Duration {
	return min(8*time.Millisecond<<min(attempt, 6), 512*time.Millisecond)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maybeSent reports whether a command that failed with err may have reached
// Redis: not on a server reply, no free connection, a closed client or a
// failed dial; else it may have failed after the command was written.
func maybeSent(err error) bool {
	return !isServerError(err) && !errors.Is(err, redis.ErrPoolTimeout) && !errors.Is(err, redis.ErrClosed) && !dialFailed(err)
}

// dialFailed reports whether err is the failure to dial Redis, after the
// client's own dial attempts (DialerRetries).
func dialFailed(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// isServerError reports whether err is a reply from the server: errors.As
// for a redis.Error, without its allocation, as it runs on every command's
// reply.
func isServerError(err error) bool {
	for err != nil {
		switch e := err.(type) {
		case redis.Error:
			return true
		case interface{ Unwrap() []error }:
			return slices.ContainsFunc(e.Unwrap(), isServerError)
		}
		err = errors.Unwrap(err)
	}
	return false
}

// wait waits for a queued command, at most until ctx ends; abandoned
// reports that ctx ended first, the command still queued to run later.
func wait(ctx context.Context, f redis.AutoFuture) (abandoned bool, err error) {
	err = f.WaitContext(ctx)
	return err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()), err
}

// resendable reports whether a failed read may be sent again: no answer
// from the server, the client not closed, the context not ended.
func resendable(err error) bool {
	return err != nil && !errors.Is(err, redis.Nil) && !isServerError(err) && !errors.Is(err, redis.ErrClosed) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// queued adds cmd to a pipeline as a command go-redis must not resend, so
// that it does not resend the pipeline (send does).
func queued[C redis.Cmder](ctx context.Context, p redis.Pipeliner, cmd C) C {
	_ = p.Process(ctx, noRetry{cmd})
	return cmd
}

// noRetry is a command go-redis must not resend: the executor resends its
// commands itself (send), and never a link script once it may have run
// (its second run would see the first run's link). Every command is so
// wrapped, since the autopipeliner cuts a batch into runs of one retry
// policy. go-redis hooks see the wrapper; Unwrap returns the command.
type noRetry struct{ redis.Cmder }

func (noRetry) NoRetry() bool { return true }

func (c noRetry) Unwrap() redis.Cmder { return c.Cmder }

// noRetryString is noRetry for a *redis.StringCmd: one pointer, so making
// it a redis.Cmder allocates nothing.
type noRetryString struct{ *redis.StringCmd }

func (noRetryString) NoRetry() bool { return true }

func (c noRetryString) Unwrap() redis.Cmder { return c.StringCmd }

// autoPipelineOptions are go-redis's defaults with a 10 µs accumulation
// window (docs/design.md, "Automatic pipelining", says why). The first user
// of a client's pipeliner sets its options.
func autoPipelineOptions() *redis.AutoPipelineOptions {
	o := redis.DefaultAutoPipelineOptions()
	o.MaxFlushDelay = 10 * time.Microsecond
	return o
}
