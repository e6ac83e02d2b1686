package sfkratos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	kerrors "github.com/go-kratos/kratos/v2/errors"
	"github.com/redis/go-redis/v9"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/statefulroute/sfotel/otelexec"
)

// replyError is a Redis error reply as go-redis returns it: a value that
// implements redis.Error.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

var _ redis.Error = replyError("")

// classCase is one error of each class of otelexec.ErrorTypes and what
// Error must make of it: the mapping written out once more, so a change of
// the table shows up here.
type classCase struct {
	err    error
	code   int
	grpc   codes.Code
	reason string
}

var classCases = map[string]classCase{
	"invalid_argument": {&otelexec.ArgumentError{Field: "uid", Reason: "contains '{'"}, http.StatusBadRequest, codes.InvalidArgument, ReasonInvalidArgument},
	"outcome_unknown":  {fmt.Errorf("otelexec: SetLinkedPod: %w: %w", otelexec.ErrOutcomeUnknown, io.EOF), http.StatusGatewayTimeout, codes.DeadlineExceeded, ReasonOutcomeUnknown},
	"canceled":         {fmt.Errorf("otelexec: GetLinkedPod: %w", context.Canceled), 499, codes.Canceled, ReasonCanceled},
	"timeout":          {fmt.Errorf("otelexec: GetLinkedPod: %w", context.DeadlineExceeded), http.StatusGatewayTimeout, codes.DeadlineExceeded, ReasonTimeout},
	"pool_timeout":     {fmt.Errorf("otelexec: GetLinkedPod: %w", redis.ErrPoolTimeout), http.StatusGatewayTimeout, codes.DeadlineExceeded, ReasonTimeout},
	"noscript":         {replyError("NOSCRIPT No matching script."), http.StatusServiceUnavailable, codes.Unavailable, ReasonUnavailable},
	"oom":              {replyError("OOM command not allowed when used memory > 'maxmemory'."), http.StatusServiceUnavailable, codes.Unavailable, ReasonUnavailable},
	"auth":             {replyError("NOAUTH Authentication required."), http.StatusInternalServerError, codes.Internal, ReasonInternal},
	"readonly":         {replyError("READONLY You can't write against a read only replica."), http.StatusServiceUnavailable, codes.Unavailable, ReasonUnavailable},
	"unavailable":      {replyError("LOADING Redis is loading the dataset in memory"), http.StatusServiceUnavailable, codes.Unavailable, ReasonUnavailable},
	"unexpected_reply": {fmt.Errorf("otelexec: GetLinkedPod: %w", otelexec.ErrUnexpectedReply), http.StatusInternalServerError, codes.Internal, ReasonInternal},
	"connection":       {fmt.Errorf("dial tcp 127.0.0.1:1: %w", syscall.ECONNREFUSED), http.StatusServiceUnavailable, codes.Unavailable, ReasonUnavailable},
	"closed":           {fmt.Errorf("otelexec: GetLinkedPod: %w", otelexec.ErrClosed), http.StatusServiceUnavailable, codes.Unavailable, ReasonUnavailable},
	"_OTHER":           {errors.New("something else"), http.StatusInternalServerError, codes.Internal, ReasonInternal},
}

// TestEveryClassIsMapped fails when otelexec gains an error class that this
// package does not map on purpose (it would fall back to 500), or loses one.
func TestEveryClassIsMapped(t *testing.T) {
	classes := otelexec.ErrorTypes()
	for _, class := range classes {
		if _, ok := reasons[class]; !ok {
			t.Errorf("error class %q has no mapping: add it to reasons", class)
		}
		if _, ok := classCases[class]; !ok {
			t.Errorf("error class %q has no test case: add it to classCases", class)
		}
	}
	if len(reasons) != len(classes) {
		t.Errorf("reasons has %d classes, otelexec.ErrorTypes %d: remove the stale ones", len(reasons), len(classes))
	}
}

func TestErrorByClass(t *testing.T) {
	for _, class := range otelexec.ErrorTypes() {
		tc, ok := classCases[class]
		if !ok {
			continue // reported by TestEveryClassIsMapped
		}
		t.Run(class, func(t *testing.T) {
			if got := otelexec.ErrorType(tc.err); got != class {
				t.Fatalf("the test's sample is of class %q, not %q", got, class)
			}
			err := Error(tc.err)
			ke := kerrors.FromError(err)
			if int(ke.Code) != tc.code || ke.Reason != tc.reason {
				t.Errorf("Error = %d %s, want %d %s", ke.Code, ke.Reason, tc.code, tc.reason)
			}
			if got := ke.Metadata[MetadataErrorType]; got != class {
				t.Errorf("metadata %s = %q, want %q", MetadataErrorType, got, class)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("the cause is lost: errors.Is(Error(err), err) is false")
			}
			// The client's message is fixed: no cause text (addresses,
			// Redis replies) leaves the server.
			if class != "invalid_argument" && strings.Contains(ke.Message, tc.err.Error()) {
				t.Errorf("message %q repeats the cause", ke.Message)
			}
			// Over gRPC: the code Kratos derives, and the reason and
			// metadata in an ErrorInfo detail.
			st := status.Convert(err)
			if st.Code() != tc.grpc {
				t.Errorf("gRPC code = %v, want %v", st.Code(), tc.grpc)
			}
			var info *errdetails.ErrorInfo
			for _, d := range st.Details() {
				if i, ok := d.(*errdetails.ErrorInfo); ok {
					info = i
				}
			}
			if info == nil || info.Reason != tc.reason || info.Metadata[MetadataErrorType] != class {
				t.Errorf("gRPC ErrorInfo = %v, want reason %s and %s=%s", info, tc.reason, MetadataErrorType, class)
			}
		})
	}
}

func TestErrorInvalidArgumentNamesTheField(t *testing.T) {
	err := Error(fmt.Errorf("wrapped: %w", &otelexec.ArgumentError{Field: "serviceNames[3]", Reason: "is empty"}))
	ke := kerrors.FromError(err)
	if ke.Metadata[MetadataField] != "serviceNames[3]" {
		t.Errorf("metadata field = %q, want serviceNames[3]", ke.Metadata[MetadataField])
	}
	if ke.Message != "otelexec: invalid serviceNames[3]: is empty" {
		t.Errorf("message = %q", ke.Message)
	}
	// ErrInvalidArgument without an *ArgumentError: still a 400, no field.
	ke = kerrors.FromError(Error(otelexec.ErrInvalidArgument))
	if ke.Code != 400 || ke.Reason != ReasonInvalidArgument {
		t.Errorf("bare ErrInvalidArgument = %d %s", ke.Code, ke.Reason)
	}
	if _, ok := ke.Metadata[MetadataField]; ok {
		t.Errorf("bare ErrInvalidArgument has a field: %v", ke.Metadata)
	}
}

func TestErrorKeepsKratosErrors(t *testing.T) {
	if Error(nil) != nil {
		t.Fatal("Error(nil) != nil")
	}
	own := kerrors.NotFound("USER_NOT_FOUND", "no such user")
	if got := Error(own); got != error(own) {
		t.Errorf("Error(kratos error) = %v, want it unchanged", got)
	}
	wrapped := fmt.Errorf("handler: %w", own)
	if got := Error(wrapped); got != wrapped {
		t.Errorf("Error(wrapped kratos error) = %v, want it unchanged", got)
	}
}

// TestErrorFromTheExecutor maps what a real executor returns against the
// real Redis: a bad uid, and an operation on a client that is closed.
func TestErrorFromTheExecutor(t *testing.T) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr(t), ContextTimeoutEnabled: true})
	exec, err := otelexec.New(rdb)
	if err != nil {
		t.Fatal(err)
	}
	_, err = exec.GetLinkedPod(ctx, testNamespace(t), "bad{uid}", "match")
	ke := kerrors.FromError(Error(err))
	if ke.Code != 400 || ke.Reason != ReasonInvalidArgument || ke.Metadata[MetadataField] != "uid" {
		t.Errorf("bad uid: %d %s %v, want 400 %s field=uid", ke.Code, ke.Reason, ke.Metadata, ReasonInvalidArgument)
	}
	if strings.Contains(ke.Message, "bad{uid}") {
		t.Errorf("message %q repeats the uid", ke.Message)
	}
	rdb.Close()
	_, err = exec.GetLinkedPod(ctx, testNamespace(t), "u1", "match")
	ke = kerrors.FromError(Error(err))
	if ke.Code != 503 || ke.Metadata[MetadataErrorType] != "closed" {
		t.Errorf("closed client: %d %s %v (%v), want 503 closed", ke.Code, ke.Reason, ke.Metadata, err)
	}
}

// TestErrorRefusedConnection: with nothing listening on Redis's port, a
// router's lookup, login and logout answer 503 Unavailable, and well within
// the request's deadline (1 s, the Kratos servers' default, and 3 s): the
// client NewRedisClient builds dials once, and the executor does not dial
// again. They answered 504 TIMEOUT after the whole deadline (logout 503
// after 0.4 s) while go-redis dialled and re-dialled.
func TestErrorRefusedConnection(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // reserved, then closed: nothing listens
	rdb, err := NewRedisClient(&layoutRedis{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	exec, err := otelexec.New(rdb)
	if err != nil {
		t.Fatal(err)
	}
	ns := testNamespace(t)
	for _, deadline := range []time.Duration{time.Second, 3 * time.Second} {
		for _, call := range []struct {
			name string
			run  func(ctx context.Context) error
		}{
			{"lookup", func(ctx context.Context) error { _, err := exec.GetLinkedPod(ctx, ns, "u1", "match"); return err }},
			{"login", func(ctx context.Context) error {
				_, err := exec.ComputeLinkedPod(ctx, ns, "u1", "match", time.Minute, otelexec.PersistForever)
				return err
			}},
			{"logout", func(ctx context.Context) error {
				_, err := exec.RemoveLinkedPod(ctx, ns, "u1", "match", 30)
				return err
			}},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			start := time.Now()
			err := call.run(ctx)
			took := time.Since(start)
			cancel()
			ke := kerrors.FromError(Error(err))
			if ke.Code != http.StatusServiceUnavailable || ke.Reason != ReasonUnavailable || ke.Metadata[MetadataErrorType] != "connection" {
				t.Errorf("%s, deadline %v: %d %s %v (%v), want 503 %s connection", call.name, deadline, ke.Code, ke.Reason, ke.Metadata, err, ReasonUnavailable)
			}
			if took > 250*time.Millisecond {
				t.Errorf("%s took %v of its %v deadline, want it to fail at once", call.name, took, deadline)
			}
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopRedisServer()
	os.Exit(code)
}
