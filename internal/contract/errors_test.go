package contract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
)

// reply is a server error reply, as go-redis returns it: any type with a
// RedisError method is one.
type reply string

func (r reply) Error() string { return string(r) }
func (reply) RedisError()     {}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want ErrorType
	}{
		{nil, NoError},
		{redis.Nil, NoError},
		{fmt.Errorf("otelexec: invalid uid: empty: %w", ErrInvalidArgument), ErrorInvalidArgument},
		{fmt.Errorf("%w: %w", ErrOutcomeUnknown, io.EOF), ErrorOutcomeUnknown},
		{fmt.Errorf("%w: %w", ErrOutcomeUnknown, context.DeadlineExceeded), ErrorOutcomeUnknown},
		{context.Canceled, ErrorCanceled},
		{fmt.Errorf("wrapped: %w", context.Canceled), ErrorCanceled},
		{context.DeadlineExceeded, ErrorTimeout},
		{os.ErrDeadlineExceeded, ErrorTimeout},
		{&net.OpError{Op: "read", Err: timeoutErr{}}, ErrorTimeout},
		// The executor's and redisinstr's classifiers once disagreed here.
		{redis.ErrPoolTimeout, ErrorPoolTimeout},
		{reply("NOSCRIPT No matching script. Please use EVAL."), ErrorNoScript},
		{reply("OOM command not allowed when used memory > 'maxmemory'."), ErrorOOM},
		{reply("NOAUTH Authentication required."), ErrorAuth},
		{reply("NOPERM User alice has no permissions to run the 'evalsha' command"), ErrorAuth},
		{reply("WRONGPASS invalid username-password pair or user is disabled."), ErrorAuth},
		{reply("READONLY You can't write against a read only replica."), ErrorReadOnly},
		{reply("LOADING Redis is loading the dataset in memory"), ErrorUnavailable},
		{reply("BUSY Redis is busy running a script."), ErrorUnavailable},
		{reply("CLUSTERDOWN The cluster is down"), ErrorUnavailable},
		{reply("TRYAGAIN Multiple keys request during rehashing of slot"), ErrorUnavailable},
		{reply("MASTERDOWN Link with MASTER is down"), ErrorUnavailable},
		{reply("ERR max number of clients reached"), ErrorUnavailable},
		{reply("WRONGTYPE Operation against a key holding the wrong kind of value"), ErrorUnexpectedReply},
		{fmt.Errorf("%w: script returned a string", ErrUnexpectedReply), ErrorUnexpectedReply},
		{ErrClosed, ErrorClosed},
		{redis.ErrClosed, ErrorClosed},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, ErrorConnection},
		{io.EOF, ErrorConnection},
		{io.ErrUnexpectedEOF, ErrorConnection},
		{syscall.ECONNRESET, ErrorConnection},
		{syscall.EPIPE, ErrorConnection},
		{reply("ERR unknown command 'FOO'"), ErrorOther},
		{errors.New("NOSCRIPT No matching script"), ErrorOther}, // not a server reply
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestErrorTypeNames pins the vocabulary: every class has a distinct,
// non-empty name, and the fallback is semconv's _OTHER.
func TestErrorTypeNames(t *testing.T) {
	seen := map[string]bool{}
	for _, name := range ErrorTypes() {
		if name == "" || seen[name] {
			t.Errorf("error type %q is empty or listed twice", name)
		}
		seen[name] = true
	}
	if len(seen) != int(NumErrorTypes)-1 {
		t.Errorf("%d names for %d classes", len(seen), NumErrorTypes-1)
	}
	if ErrorOther.String() != "_OTHER" {
		t.Errorf("fallback %q, want semconv's _OTHER", ErrorOther)
	}
}

// TestClassifyReply: the db.* instruments' error.type is the reply's code,
// from a fixed table, with the class alongside for sfotel's own.
func TestClassifyReply(t *testing.T) {
	for _, tc := range []struct {
		err    error
		class  ErrorType
		dbType string
	}{
		{nil, NoError, ""},
		{reply("WRONGTYPE Operation against a key holding the wrong kind of value"), ErrorUnexpectedReply, "WRONGTYPE"},
		{fmt.Errorf("wrapped: %w", reply("NOSCRIPT No matching script.")), ErrorNoScript, "NOSCRIPT"},
		{reply("ERR max number of clients reached"), ErrorUnavailable, "ERR"},
		{reply("ERR unknown command 'x'"), ErrorOther, "ERR"},
		{reply("user:42 is not allowed"), ErrorOther, "_OTHER"}, // a script's reply: no free text
		{context.DeadlineExceeded, ErrorTimeout, "timeout"},
		{io.EOF, ErrorConnection, "connection"},
	} {
		class, code := ClassifyReply(tc.err)
		if class != tc.class || DBErrorType(class, code) != tc.dbType {
			t.Errorf("ClassifyReply(%v) = %v, %q; want %v, %q", tc.err, class, DBErrorType(class, code), tc.class, tc.dbType)
		}
	}
}
