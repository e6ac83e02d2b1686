package otelexec

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/contract"
)

// ErrInvalidArgument is wrapped by every error for input the executor rejects
// before it reaches Redis. Use errors.As with *ArgumentError to learn which
// field was rejected.
var ErrInvalidArgument = errors.New("otelexec: invalid argument")

// ErrUnexpectedReply is wrapped by errors for replies that do not have the
// shape the executor wrote into Redis, for example a link that is not a pod ID.
var ErrUnexpectedReply = errors.New("otelexec: unexpected reply")

// ArgumentError is the error for one rejected input field. It wraps
// ErrInvalidArgument. The reason never repeats the rejected value, so the
// message is safe to put on spans and in logs.
type ArgumentError struct {
	Field  string // for example "uid" or "serviceNames[3]"
	Reason string // for example "contains '{'"
}

func (e *ArgumentError) Error() string {
	return "otelexec: invalid " + e.Field + ": " + e.Reason
}

func (e *ArgumentError) Unwrap() error { return ErrInvalidArgument }

// errorType is an index into contract.ErrorTypes; the telemetry tables are
// indexed by it.
type errorType uint8

const (
	errInvalidArgument errorType = iota
	errRedisNil
	errTimeout
	errCanceled
	errConnection
	errNoScript
	errOther
	numErrorTypes
)

// String returns the contract name of the error type.
func (t errorType) String() string { return contract.ErrorTypes[t] }

// classify maps an error to the fixed set of error types of the telemetry
// contract. The order matters: a context error wrapped by go-redis is a
// cancellation or timeout, not a connection failure.
func classify(err error) errorType {
	var netErr net.Error
	switch {
	case errors.Is(err, ErrInvalidArgument):
		return errInvalidArgument
	case errors.Is(err, redis.Nil):
		return errRedisNil
	case errors.Is(err, context.Canceled):
		return errCanceled
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, redis.ErrPoolTimeout):
		return errTimeout
	case isNoScript(err):
		return errNoScript
	case errors.As(err, &netErr) && netErr.Timeout():
		return errTimeout
	case errors.Is(err, redis.ErrClosed),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr):
		return errConnection
	default:
		return errOther
	}
}

// isNoScript reports whether err is the server's NOSCRIPT reply.
func isNoScript(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT")
}
