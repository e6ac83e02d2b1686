package contract

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// Sentinel errors of the executor. They are defined here, where the
// classifier can see them, and exported by package otelexec under the same
// names.
var (
	ErrInvalidArgument = errors.New("otelexec: invalid argument")
	ErrUnexpectedReply = errors.New("otelexec: unexpected reply")
	ErrOutcomeUnknown  = errors.New("otelexec: outcome unknown: the write may or may not have been applied")
	ErrClosed          = errors.New("otelexec: executor is closed")
)

// ErrorType is one class of the fixed error vocabulary: the value of the
// executor's error_type metric attribute and of error.type on every span and
// on db.client.operation.duration. One classifier serves every package, so
// the same failure has the same name wherever it is seen.
type ErrorType uint8

// The error classes. NoError is not a class: it is what Classify returns for
// nil and for redis.Nil, which is an answer (a missing key), not a failure.
const (
	NoError ErrorType = iota
	ErrorInvalidArgument
	ErrorOutcomeUnknown
	ErrorCanceled
	ErrorTimeout
	ErrorPoolTimeout
	ErrorNoScript
	ErrorOOM
	ErrorAuth
	ErrorReadOnly
	ErrorUnavailable
	ErrorUnexpectedReply
	ErrorConnection
	ErrorClosed
	ErrorOther
	NumErrorTypes
)

// errorTypeNames are the attribute values. The fallback is semconv's
// error.type value for an unknown class, _OTHER.
var errorTypeNames = [NumErrorTypes]string{
	NoError:              "",
	ErrorInvalidArgument: "invalid_argument",
	ErrorOutcomeUnknown:  "outcome_unknown",
	ErrorCanceled:        "canceled",
	ErrorTimeout:         "timeout",
	ErrorPoolTimeout:     "pool_timeout",
	ErrorNoScript:        "noscript",
	ErrorOOM:             "oom",
	ErrorAuth:            "auth",
	ErrorReadOnly:        "readonly",
	ErrorUnavailable:     "unavailable",
	ErrorUnexpectedReply: "unexpected_reply",
	ErrorConnection:      "connection",
	ErrorClosed:          "closed",
	ErrorOther:           "_OTHER",
}

// String returns the attribute value of t; "" for NoError.
func (t ErrorType) String() string { return errorTypeNames[t] }

// ErrorTypes returns every class's attribute value, NoError left out, in
// the order Classify tries them.
func ErrorTypes() []string {
	out := make([]string, 0, NumErrorTypes-1)
	for t := NoError + 1; t < NumErrorTypes; t++ {
		out = append(out, t.String())
	}
	return out
}

// Server reply prefixes and the class each one belongs to. Only the first
// of a reply is compared, after the "ERR " some servers put first, as
// redis.HasErrorPrefix does.
var replyClasses = []struct {
	prefix string
	class  ErrorType
}{
	{"NOSCRIPT", ErrorNoScript},
	{"OOM", ErrorOOM},
	{"NOAUTH", ErrorAuth},
	{"NOPERM", ErrorAuth},
	{"WRONGPASS", ErrorAuth},
	{"READONLY", ErrorReadOnly},
	{"LOADING", ErrorUnavailable},
	{"BUSY", ErrorUnavailable},
	{"MASTERDOWN", ErrorUnavailable},
	{"CLUSTERDOWN", ErrorUnavailable},
	{"TRYAGAIN", ErrorUnavailable},
	{"max number of clients reached", ErrorUnavailable},
	{"WRONGTYPE", ErrorUnexpectedReply},
}

// Classify sorts err into the fixed error classes. The order is the order of
// the constants: the first class that matches wins, so a context error that
// go-redis wrapped is a timeout or a cancellation, not a connection failure,
// and a write whose reply was lost is outcome_unknown whatever lost it.
func Classify(err error) ErrorType {
	if err == nil || errors.Is(err, redis.Nil) {
		return NoError
	}
	switch {
	case errors.Is(err, ErrInvalidArgument):
		return ErrorInvalidArgument
	case errors.Is(err, ErrOutcomeUnknown):
		return ErrorOutcomeUnknown
	case errors.Is(err, context.Canceled):
		return ErrorCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return ErrorTimeout
	case errors.Is(err, redis.ErrPoolTimeout):
		return ErrorPoolTimeout
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		msg := strings.TrimPrefix(reply.Error(), "ERR ")
		for _, r := range replyClasses {
			if strings.HasPrefix(msg, r.prefix) {
				return r.class
			}
		}
	}
	if errors.Is(err, ErrUnexpectedReply) {
		return ErrorUnexpectedReply
	}
	if errors.Is(err, ErrClosed) || errors.Is(err, redis.ErrClosed) {
		return ErrorClosed
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		if netErr.Timeout() {
			return ErrorTimeout
		}
		return ErrorConnection
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return ErrorConnection
	}
	return ErrorOther
}

// IsNoScript reports whether err is the server's NOSCRIPT reply.
func IsNoScript(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT")
}
