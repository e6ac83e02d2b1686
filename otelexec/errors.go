package otelexec

import (
	"github.com/statefulroute/sfotel/internal/contract"
)

// ErrInvalidArgument is wrapped by every error for input the executor rejects
// before it reaches Redis. Use errors.As with *ArgumentError to learn which
// field was rejected.
var ErrInvalidArgument = contract.ErrInvalidArgument

// ErrUnexpectedReply is wrapped by errors for replies that do not have the
// shape the executor expects, for example a script reply of the wrong type
// or a key of the wrong Redis type (WRONGTYPE).
var ErrUnexpectedReply = contract.ErrUnexpectedReply

// ErrOutcomeUnknown is wrapped by the error of a write whose reply was lost:
// the connection broke or the deadline passed after the command may have
// reached Redis, so the write may or may not have been applied. Every write
// operation reports such a failure so (SetServiceState and SetWorkloadState
// too); a plain timeout means nothing was sent. The executor never resends
// a link script that may have run, because running it twice returns a
// wrong result (the second run sees the first run's link). The error also
// wraps the cause (a network error, context.DeadlineExceeded, ...).
//
// What to do with it: read the link back (GetLinkedPod) to learn what Redis
// holds now, and decide from that; or, where the write is idempotent for the
// caller (SetLinkedPod to the same pod), simply repeat it.
var ErrOutcomeUnknown = contract.ErrOutcomeUnknown

// ErrClosed is returned by every operation of an Executor after Close.
var ErrClosed = contract.ErrClosed

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

// ErrorType returns the class the executor's telemetry records for err: the
// value of the error_type metric attribute and of the span's error.type. It
// is "" for nil. The classes are fixed (ErrorTypes lists them) and shared
// with package redisinstr, so a caller can map them to its own error codes,
// as the Kratos integration does.
func ErrorType(err error) string { return contract.Classify(err).String() }

// ErrorTypes returns every value ErrorType can return for a non-nil error.
func ErrorTypes() []string { return contract.ErrorTypes() }
