package otelexec

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// WithAutoPipelining lets the executor send its single commands (lookups,
// link scripts, state reads and writes) through go-redis's automatic
// pipelining while other operations are in flight on the executor:
// commands from many goroutines then share one pipelined round trip and
// its system calls, instead of one each. A caller alone (fewer than
// autoPipelineMinInFlight operations in flight) is sent directly, because
// pipelining a lone command only adds the flusher's hand-off
// (docs/benchmarks.md has the measurements behind both choices). Off by
// default: go-redis marks the API experimental.
//
// Nothing the executor promises changes: each caller still waits for its
// own command only as long as its context allows (the wait is the
// caller's, the command itself is not cancelled once queued, so a write
// whose caller gave up is reported as ErrOutcomeUnknown); link writes are
// sent at most once; NOSCRIPT is handled as without pipelining; on a
// cluster the pipeliner routes each command by slot. While redisinstr
// records command spans on the client, commands are sent directly: a
// pipelined batch serves operations of many traces, and its span could be
// the child of none of them. redisinstr's db.client.operation.duration then
// records each batch (BATCH GET, PIPELINE) rather than each command. The
// batch reads (BatchGetLinkedPod, GetWorkloadStateBatch) are pipelines of
// their own and do not change.
func WithAutoPipelining(on bool) Option {
	return optionFunc(func(c *config) { c.autoPipelining = on })
}

// autoPipelineMinInFlight is the number of the executor's commands in
// flight, this one included, from which a command is autopipelined.
var autoPipelineMinInFlight int64 = 2 // a variable so that tests can pipeline a lone caller too

// sender sends the executor's single commands, directly or autopipelined.
type sender struct {
	rdb      redis.UniversalClient
	ap       *redis.AutoPipeliner // nil without WithAutoPipelining
	inFlight atomic.Int64
	spans    *atomic.Int32 // redisinstr's command spans on this client
}

func newSender(rdb redis.UniversalClient, on bool, spans *atomic.Int32) (*sender, error) {
	s := &sender{rdb: rdb, spans: spans}
	if !on {
		return s, nil
	}
	var err error
	o := autoPipelineOptions()
	switch c := rdb.(type) {
	case *redis.Client:
		s.ap, err = c.AsyncAutoPipelineWithOptions(o)
	case *redis.ClusterClient:
		s.ap, err = c.AsyncAutoPipelineWithOptions(o)
	case *redis.Ring:
		s.ap, err = c.AsyncAutoPipelineWithOptions(o)
	default:
		err = fmt.Errorf("client type %T has no autopipelining", rdb)
	}
	if err != nil {
		return nil, fmt.Errorf("otelexec: WithAutoPipelining: %w", err)
	}
	return s, nil
}

// begin counts a command in flight and returns the pipeliner to send it
// through, or nil to send it directly. end must follow.
func (s *sender) begin() *redis.AutoPipeliner {
	n := s.inFlight.Add(1)
	if s.ap == nil || n < autoPipelineMinInFlight || s.spans.Load() > 0 {
		return nil
	}
	return s.ap
}

func (s *sender) end() { s.inFlight.Add(-1) }

// do sends one command and waits for it, at most until ctx ends. It
// returns the command's error; when ctx ended first it returns the
// context's error, and the command, still queued, must not be read.
//
// A pipelined command is queued as one that must not be resent: go-redis
// splits a batch into runs of one retry policy, so mixing the link writes
// (never resent) with resendable reads would cut every batch into many
// round trips. A read that fails that way, and that go-redis would have
// resent, is sent again directly, where the client's own retries apply.
func (s *sender) do(ctx context.Context, cmd redis.Cmder) error {
	ap := s.begin()
	defer s.end()
	if ap == nil {
		return s.rdb.Process(ctx, cmd)
	}
	abandoned, err := wait(ctx, ap.Submit(ctx, noRetry{cmd}))
	if err != nil && !abandoned && !cmd.NoRetry() && resendable(err) {
		return s.rdb.Process(ctx, cmd)
	}
	return err
}

// pair sends two reads, and a third unless c is nil, on one round trip (a
// pipeline, or queued commands that travel together) and waits for them.
// It returns the first command error, or the context's error when ctx
// ended first, in which case no command may be read.
func (s *sender) pair(ctx context.Context, a, b, c redis.Cmder) error {
	ap := s.begin()
	defer s.end()
	if ap != nil {
		fa, fb := ap.Submit(ctx, noRetry{a}), ap.Submit(ctx, noRetry{b})
		var fc redis.AutoFuture
		if c != nil {
			fc = ap.Submit(ctx, noRetry{c})
		}
		abandoned, errA := wait(ctx, fa)
		if abandoned {
			return errA
		}
		abandoned, errB := wait(ctx, fb)
		if abandoned {
			return errB
		}
		var errC error
		if c != nil {
			if abandoned, errC = wait(ctx, fc); abandoned {
				return errC
			}
		}
		if !resendable(errA) && !resendable(errB) && !resendable(errC) {
			return errors.Join(errA, errB, errC)
		}
		// A broken connection: send them again directly, below.
	}
	p := s.rdb.Pipeline()
	_ = p.Process(ctx, a)
	_ = p.Process(ctx, b)
	if c != nil {
		_ = p.Process(ctx, c)
	}
	_, err := p.Exec(ctx)
	return err
}

// wait waits for a queued command, at most until ctx ends; abandoned
// reports that ctx ended first, the command still queued to run later.
func wait(ctx context.Context, f redis.AutoFuture) (abandoned bool, err error) {
	err = f.WaitContext(ctx)
	return err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()), err
}

// resendable reports whether a failed read may be sent again: it did not
// get an answer from the server (a reply, a missing key) and the context
// has not ended.
func resendable(err error) bool {
	return err != nil && !errors.Is(err, redis.Nil) && !isServerError(err) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// noRetry is a queued command go-redis must not resend (see do).
type noRetry struct{ redis.Cmder }

func (noRetry) NoRetry() bool { return true }

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
