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
	class, _ := ClassifyReply(err)
	return class
}

// ClassifyReply is Classify that also returns the server reply's code
// (db.response.status_code), NoReply when err is no server reply: the class
// names sfotel's own instruments, the code the db.* ones, one pass for both.
func ClassifyReply(err error) (ErrorType, Reply) {
	if err == nil || errors.Is(err, redis.Nil) {
		return NoError, NoReply
	}
	switch {
	case errors.Is(err, ErrInvalidArgument):
		return ErrorInvalidArgument, NoReply
	case errors.Is(err, ErrOutcomeUnknown):
		return ErrorOutcomeUnknown, NoReply
	case errors.Is(err, context.Canceled):
		return ErrorCanceled, NoReply
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return ErrorTimeout, NoReply
	case errors.Is(err, redis.ErrPoolTimeout):
		return ErrorPoolTimeout, NoReply
	}
	code := NoReply
	if reply, ok := asReply(err); ok {
		code = replyCode(reply)
		msg := strings.TrimPrefix(reply, "ERR ")
		for _, r := range replyClasses {
			if strings.HasPrefix(msg, r.prefix) {
				return r.class, code
			}
		}
	}
	if errors.Is(err, ErrUnexpectedReply) {
		return ErrorUnexpectedReply, code
	}
	if errors.Is(err, ErrClosed) || errors.Is(err, redis.ErrClosed) {
		return ErrorClosed, code
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		if netErr.Timeout() {
			return ErrorTimeout, code
		}
		return ErrorConnection, code
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return ErrorConnection, code
	}
	return ErrorOther, code
}

// asReply is errors.As for a server reply, in a function of its own so that
// the target escapes to the heap only on the error path.
func asReply(err error) (string, bool) {
	var reply redis.Error
	if !errors.As(err, &reply) {
		return "", false
	}
	return reply.Error(), true
}

// IsNoScript reports whether err is the server's NOSCRIPT reply.
func IsNoScript(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT")
}
