package otelexec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
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

// newSender returns the executor's sender over rdb, autopipelined if on.
// A client that has no pipeliner to give (a closed one, or a
// UniversalClient of another type) is sent to directly: the option is a
// way of sending, and every guarantee holds either way.
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

// write sends a write as do sends a command, and reports a failure after
// which the write may have been applied as ErrOutcomeUnknown, wrapping the
// cause: the connection broke or the deadline passed after the command may
// have reached Redis, on its last attempt or an earlier one (maybeSent).
// Only a write whose context had ended before it was sent, whose dial
// failed, or that Redis refused is known not to have run.
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
// when begin says so, and says whether it may have reached Redis on an
// attempt that failed.
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

// pair sends two reads, and a third unless c is nil, on one round trip (a
// pipeline, or queued commands that travel together) and waits for them.
// It returns the first command error, or the context's error when ctx
// ended first, in which case no command may be read.
func (s *sender) pair(ctx context.Context, a, b, c redis.Cmder) error {
	ap := s.begin()
	defer s.end()
	// A loop rather than sendPipeline: a closure here would cost an
	// allocation on every lookup.
	for n := 0; ; n++ {
		err := s.pairOnce(ctx, ap, a, b, c)
		ap = nil // a resend goes directly
		if s.cluster || !s.again(ctx, n, false, err) {
			return err
		}
	}
}

// pairOnce is one attempt of pair, through ap unless it is nil.
func (s *sender) pairOnce(ctx context.Context, ap *redis.AutoPipeliner, a, b, c redis.Cmder) error {
	if ap == nil {
		// One NoRetry command keeps go-redis from resending the whole
		// pipeline; wrapping one saves the others' allocations.
		p := s.rdb.Pipeline()
		if sc, ok := a.(*redis.StringCmd); ok {
			_ = p.Process(ctx, noRetryString{sc}) // a lookup's HGET, boxed for free
		} else {
			queued(ctx, p, a)
		}
		_ = p.Process(ctx, b)
		if c != nil {
			_ = p.Process(ctx, c)
		}
		_, err := p.Exec(ctx)
		return err
	}
	futures := [3]redis.AutoFuture{ap.Submit(ctx, noRetry{a}), ap.Submit(ctx, noRetry{b})}
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

// Resending. go-redis resends a command or a pipeline that failed
// MaxRetries times (3 by default), a failed dial included. But its pool
// has dialled DialerRetries times (5, 100 ms apart, by default) before a
// dial fails, and a pipeline dials both of go-redis's pools (its pipeline
// pool, then its main pool): with nothing listening, a single command took
// 4 × 5 dials and 1.7 s, a pipeline 4 × 2 × 5 dials and 3.3 s, the
// caller's whole deadline, reported as a timeout. So the executor sends
// every command as one go-redis must not resend (noRetry) and resends it
// itself, as go-redis would, except after a failed dial: the client's
// dial attempts were made, and the operation fails at once with the dial's
// error, class connection.

// send runs attempt, and runs it again, at most s.retries more times with
// go-redis's backoff between, while it fails in a way a resend may cure:
// Redis refused the command without running it (refusedUnrun), or, unless
// once, the connection broke or timed out after its dial succeeded. sent
// says whether an attempt that failed may have reached Redis.
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

// sendPipeline is send for a pipeline (attempt). A ClusterClient resends
// a pipeline itself, whatever its commands' NoRetry says: it is not resent
// twice over.
func (s *sender) sendPipeline(ctx context.Context, attempt func() error) error {
	if s.cluster {
		return attempt()
	}
	_, err := s.send(ctx, false, attempt)
	return err
}

// refusedUnrun reports whether err is a reply by which Redis refused a
// command without running it.
func refusedUnrun(err error) bool {
	rErr, ok := redisError(err)
	if !ok {
		return false
	}
	msg := strings.TrimPrefix(rErr.Error(), "ERR ") // as redis.HasErrorPrefix reads it
	for _, prefix := range []string{"TRYAGAIN", "CLUSTERDOWN", "LOADING", "MASTERDOWN", "BUSY"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

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
// Redis. A reply from the server (an error reply included) is an outcome;
// no free connection, a closed client or a failed dial mean nothing was
// sent. Anything else (a broken connection, a read timeout, the context's
// deadline) may have come after the command was written.
func maybeSent(err error) bool {
	return !isServerError(err) && !errors.Is(err, redis.ErrPoolTimeout) && !errors.Is(err, redis.ErrClosed) && !dialFailed(err)
}

// dialFailed reports whether err is the failure to dial Redis, after the
// client's own dial attempts (DialerRetries).
func dialFailed(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// isServerError reports whether err is a reply from the server. It is its
// own function so that the target errors.As needs escapes to the heap only
// on this rare path, not on every EVALSHA.
func isServerError(err error) bool {
	_, ok := redisError(err)
	return ok
}

// redisError is errors.As for a redis.Error, without its allocation: it
// runs on every command's reply.
func redisError(err error) (redis.Error, bool) {
	for err != nil {
		switch e := err.(type) {
		case redis.Error:
			return e, true
		case interface{ Unwrap() []error }:
			for _, err := range e.Unwrap() {
				if r, ok := redisError(err); ok {
					return r, true
				}
			}
			return nil, false
		}
		err = errors.Unwrap(err)
	}
	return nil, false
}

// wait waits for a queued command, at most until ctx ends; abandoned
// reports that ctx ended first, the command still queued to run later.
func wait(ctx context.Context, f redis.AutoFuture) (abandoned bool, err error) {
	err = f.WaitContext(ctx)
	return err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()), err
}

// resendable reports whether a failed read may be sent again: it did not
// get an answer from the server (a reply, a missing key), the client is
// not closed and the context has not ended.
func resendable(err error) bool {
	return err != nil && !errors.Is(err, redis.Nil) && !isServerError(err) && !errors.Is(err, redis.ErrClosed) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// queued adds cmd to a pipeline as a command go-redis must not resend: one
// such command keeps go-redis from resending the whole pipeline (send
// does).
func queued[C redis.Cmder](ctx context.Context, p redis.Pipeliner, cmd C) C {
	_ = p.Process(ctx, noRetry{cmd})
	return cmd
}

// noRetry is a command go-redis must not resend: the executor resends its
// commands itself (send). A link script is never resent once it may have
// run: its second run sees the first run's link and returns a wrong result
// with no error. On the autopipeliner, a batch is split into runs of one
// retry policy, so mixing resendable commands with the link scripts would
// cut every batch into many round trips. go-redis hooks see the executor's
// commands so wrapped; Unwrap returns the command.
type noRetry struct{ redis.Cmder }

func (noRetry) NoRetry() bool { return true }

func (c noRetry) Unwrap() redis.Cmder { return c.Cmder }

// noRetryString is noRetry for a *redis.StringCmd: one pointer, so making
// it a redis.Cmder allocates nothing.
type noRetryString struct{ *redis.StringCmd }

func (noRetryString) NoRetry() bool { return true }

func (c noRetryString) Unwrap() redis.Cmder { return c.StringCmd }

// autoPipelineOptions are go-redis's defaults for the deferred face (one
// ordered stream of batches) with a 10 µs accumulation window. Without a
// window go-redis coalesces by counting expected arrivals, with a silence
// gap of at least 200 µs before it gives up on a straggler: on the routing
// mix, whose callers arrive unevenly (a lookup is two commands, a login up
// to three round trips), that left a core idle in tuning runs, which the
// 10 µs window did not. The first user of a client's pipeliner sets its
// options; a client whose options already configure one keeps those.
func autoPipelineOptions() *redis.AutoPipelineOptions {
	o := redis.DefaultAutoPipelineOptions()
	o.MaxFlushDelay = 10 * time.Microsecond
	return o
}
