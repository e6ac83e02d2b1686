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

// ErrOutcomeUnknown is wrapped, with its cause, by the error of a write
// whose reply was lost after the command may have reached Redis, so that it
// may or may not have been applied (a plain timeout means nothing was sent).
// The executor never resends a link script that may have run: a second run
// would see the first run's link. Read the link back (GetLinkedPod) to learn
// what Redis holds, or repeat a write that is idempotent for the caller.
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
