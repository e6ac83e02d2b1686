package sfkratos

import (
	"cmp"
	"errors"
	"net/http"

	kerrors "github.com/go-kratos/kratos/v2/errors"
	kstatus "github.com/go-kratos/kratos/v2/transport/http/status"

	"github.com/statefulroute/sfotel/otelexec"
)

// The reasons of the Kratos errors that Error returns. They are stable:
// clients may switch on them (errors.Reason(err) in a Kratos client, the
// ErrorInfo detail's reason over gRPC, the "reason" field of the JSON body
// over HTTP). The class that produced the error (otelexec.ErrorType) is in
// the metadata under MetadataErrorType.
const (
	// ReasonInvalidArgument: the request carried input the executor refuses
	// (an empty uid, a uid with braces, a namespace with a space, ...). The
	// rejected field is in the metadata under MetadataField. HTTP 400, gRPC
	// InvalidArgument. Do not retry the same request.
	ReasonInvalidArgument = "STATEFUL_EXECUTOR_INVALID_ARGUMENT"
	// ReasonOutcomeUnknown: a write was sent but its reply was lost, so it
	// may or may not have been applied. HTTP 504, gRPC DeadlineExceeded, the
	// one gRPC code whose contract says "the operation may have completed".
	// Read the state back (a lookup) before deciding to write again.
	ReasonOutcomeUnknown = "STATEFUL_EXECUTOR_OUTCOME_UNKNOWN"
	// ReasonTimeout: the executor gave up before it had an answer (the
	// request's deadline, a Redis read timeout, no free pool connection in
	// time). HTTP 504, gRPC DeadlineExceeded. Nothing was written: a write
	// that may have reached Redis is ReasonOutcomeUnknown instead.
	ReasonTimeout = "STATEFUL_EXECUTOR_TIMEOUT"
	// ReasonCanceled: the request's context was canceled, usually because
	// the client went away. HTTP 499 (Kratos' ClientClosed), gRPC Canceled.
	ReasonCanceled = "STATEFUL_EXECUTOR_CANCELED"
	// ReasonUnavailable: Redis could not take the command now (connection
	// refused or broken, loading, failing over, read-only replica, out of
	// memory, executor or client closed). HTTP 503, gRPC Unavailable. The
	// command did not run; retrying later is safe.
	ReasonUnavailable = "STATEFUL_EXECUTOR_UNAVAILABLE"
	// ReasonInternal: a failure the client cannot fix by retrying (a reply
	// of an unexpected shape, Redis refusing the server's credentials, an
	// unclassified error). HTTP 500, gRPC Internal.
	ReasonInternal = "STATEFUL_EXECUTOR_INTERNAL"
)

// Metadata keys of the Kratos errors that Error returns.
const (
	// MetadataErrorType holds otelexec.ErrorType(err), the class the
	// executor's telemetry recorded, for every error.
	MetadataErrorType = "error_type"
	// MetadataField holds the rejected field (for example "uid") of an
	// invalid-argument error.
	MetadataField = "field"
)

// reasons maps every class of otelexec.ErrorTypes to its reason. A class
// missing here falls back to ReasonInternal; the tests fail when one is.
var reasons = map[string]string{
	"invalid_argument": ReasonInvalidArgument,
	"outcome_unknown":  ReasonOutcomeUnknown,
	"canceled":         ReasonCanceled,
	"timeout":          ReasonTimeout,
	"pool_timeout":     ReasonTimeout,
	"noscript":         ReasonUnavailable, // the script cache was flushed twice in one call: a transient Redis state
	"oom":              ReasonUnavailable, // Redis refuses writes over maxmemory; the command did not run
	"auth":             ReasonInternal,    // the server's Redis credentials are wrong: not the client's to fix
	"readonly":         ReasonUnavailable, // a replica during a failover
	"unavailable":      ReasonUnavailable,
	"unexpected_reply": ReasonInternal,
	"connection":       ReasonUnavailable,
	"closed":           ReasonUnavailable, // the executor or client is shutting down
	"_OTHER":           ReasonInternal,
}

// replies holds each reason's HTTP code and the client's message, never the
// cause's text.
var replies = map[string]struct {
	code    int
	message string
}{
	ReasonInvalidArgument: {http.StatusBadRequest, "stateful executor: invalid argument"},
	ReasonOutcomeUnknown:  {http.StatusGatewayTimeout, "stateful executor: the write may or may not have been applied; read it back before retrying"},
	ReasonTimeout:         {http.StatusGatewayTimeout, "stateful executor: timed out"},
	ReasonCanceled:        {kstatus.ClientClosed, "stateful executor: request canceled"},
	ReasonUnavailable:     {http.StatusServiceUnavailable, "stateful executor: Redis unavailable"},
	ReasonInternal:        {http.StatusInternalServerError, "stateful executor: internal error"},
}

// Error returns err as a Kratos error (*errors.Error of
// github.com/go-kratos/kratos/v2/errors) with the HTTP code, the reason and
// the metadata its class calls for, and err as its cause:
//
//	invalid_argument                       400 InvalidArgument   ReasonInvalidArgument, field in metadata
//	outcome_unknown                        504 DeadlineExceeded  ReasonOutcomeUnknown
//	timeout, pool_timeout                  504 DeadlineExceeded  ReasonTimeout
//	canceled                               499 Canceled          ReasonCanceled
//	connection, closed, unavailable,
//	readonly, oom, noscript                503 Unavailable       ReasonUnavailable
//	unexpected_reply, auth, _OTHER         500 Internal          ReasonInternal
//
// The gRPC code is the one Kratos derives from the HTTP code. The message
// sent to the client is fixed per reason (for an invalid argument, the
// *otelexec.ArgumentError's message, which names the field and never the
// value), so no Redis address or reply text leaves the server; the cause
// stays available to server-side logging (the Kratos logging middleware
// prints it) and to errors.Is and errors.As.
//
// nil stays nil, and an error that already is a Kratos error is returned
// unchanged, so handlers may return their own Kratos errors beside the
// executor's.
func Error(err error) error {
	if err == nil {
		return nil
	}
	var ke *kerrors.Error
	if errors.As(err, &ke) {
		return err
	}
	class := otelexec.ErrorType(err)
	reason := cmp.Or(reasons[class], ReasonInternal)
	md := map[string]string{MetadataErrorType: class}
	message := replies[reason].message
	var ae *otelexec.ArgumentError
	if class == "invalid_argument" && errors.As(err, &ae) {
		md[MetadataField] = ae.Field
		message = ae.Error()
	}
	return kerrors.New(replies[reason].code, reason, message).WithMetadata(md).WithCause(err)
}
