package otlptest

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // accept gzip-compressed exports
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Mode is how the receiver answers.
type Mode int32

// The receiver's modes.
const (
	// Accept records every export and answers success.
	Accept Mode = iota
	// BlackHole accepts requests and never answers them; the client's
	// deadline is the only way out.
	BlackHole
	// Reject answers every export with a retryable error: gRPC
	// UNAVAILABLE, HTTP 503.
	Reject
	// Refuse stops listening and drops open connections.
	Refuse
)

func (m Mode) String() string {
	switch m {
	case Accept:
		return "accept"
	case BlackHole:
		return "black-hole"
	case Reject:
		return "reject"
	case Refuse:
		return "refuse"
	}
	return fmt.Sprintf("Mode(%d)", int32(m))
}

// Transport names the endpoint a batch came through.
type Transport string

// The receiver's endpoints.
const (
	GRPC Transport = "grpc"
	HTTP Transport = "http/protobuf"
)

// TraceBatch is one trace export as received.
type TraceBatch struct {
	Transport     Transport
	Header        metadata.MD // gRPC metadata or HTTP headers, keys lower-case
	ResourceSpans []*tracepb.ResourceSpans
}

// MetricBatch is one metric export as received.
type MetricBatch struct {
	Transport       Transport
	Header          metadata.MD
	ResourceMetrics []*metricpb.ResourceMetrics
}

// Counts counts the export requests that reached the receiver, whatever it
// answered.
type Counts struct {
	Traces, Metrics       int // recorded (answered success)
	Rejected, BlackHoled  int
	GRPCCalls, HTTPCalls  int
	BadRequests, Refusals int // malformed bodies; mode changes to Refuse
}

// Receiver is an in-process OTLP collector stand-in.
type Receiver struct {
	grpcLn, httpLn *gateListener
	grpcSrv        *grpc.Server
	httpSrv        *http.Server
	mode           atomic.Int32

	closeOnce sync.Once
	closed    chan struct{}

	mu      sync.Mutex
	traces  []TraceBatch
	metrics []MetricBatch
	counts  Counts
	changed chan struct{} // closed and replaced on every request
}

// Option configures Start.
type Option interface{ apply(*Receiver) }

type optionFunc func(*Receiver)

func (f optionFunc) apply(r *Receiver) { f(r) }

// WithMode starts the receiver in mode m instead of Accept.
func WithMode(m Mode) Option {
	return optionFunc(func(r *Receiver) { r.mode.Store(int32(m)) })
}

// Start runs a receiver on two loopback ports until the test ends.
func Start(tb testing.TB, opts ...Option) *Receiver {
	tb.Helper()
	r, err := New(opts...)
	if err != nil {
		tb.Fatalf("otlptest: %v", err)
	}
	tb.Cleanup(r.Close)
	return r
}

// New runs a receiver on two loopback ports until Close.
func New(opts ...Option) (*Receiver, error) {
	r := &Receiver{closed: make(chan struct{}), changed: make(chan struct{})}
	for _, o := range opts {
		if o != nil {
			o.apply(r)
		}
	}
	var err error
	if r.grpcLn, err = listenGate(); err != nil {
		return nil, err
	}
	if r.httpLn, err = listenGate(); err != nil {
		_ = r.grpcLn.Close()
		return nil, err
	}

	r.grpcSrv = grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(r.grpcSrv, traceService{r: r})
	colmetricpb.RegisterMetricsServiceServer(r.grpcSrv, metricService{r: r})

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.serveHTTPTraces)
	mux.HandleFunc("POST /v1/metrics", r.serveHTTPMetrics)
	r.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	if Mode(r.mode.Load()) == Refuse {
		r.grpcLn.refuse()
		r.httpLn.refuse()
	}
	go func() { _ = r.grpcSrv.Serve(r.grpcLn) }()
	go func() { _ = r.httpSrv.Serve(r.httpLn) }()
	return r, nil
}

// Close stops both endpoints and releases black-holed requests. It is safe
// to call more than once.
func (r *Receiver) Close() {
	r.closeOnce.Do(func() {
		close(r.closed)
		r.grpcSrv.Stop()
		_ = r.httpSrv.Close()
	})
}

// GRPCAddr and HTTPAddr are the endpoints' host:port.
func (r *Receiver) GRPCAddr() string { return r.grpcLn.Addr().String() }
func (r *Receiver) HTTPAddr() string { return r.httpLn.Addr().String() }

// GRPCEndpoint and HTTPEndpoint are the endpoints as URLs, the form
// OTEL_EXPORTER_OTLP_ENDPOINT takes.
func (r *Receiver) GRPCEndpoint() string { return "http://" + r.GRPCAddr() }
func (r *Receiver) HTTPEndpoint() string { return "http://" + r.HTTPAddr() }

// Mode returns the current mode.
func (r *Receiver) Mode() Mode { return Mode(r.mode.Load()) }

// SetMode switches the mode. Requests already black-holed stay unanswered.
// Leaving Refuse listens again on the same ports; that fails only if
// another process took a port meanwhile.
func (r *Receiver) SetMode(m Mode) error {
	old := Mode(r.mode.Swap(int32(m)))
	switch {
	case m == Refuse && old != Refuse:
		r.grpcLn.refuse()
		r.httpLn.refuse()
		r.mu.Lock()
		r.counts.Refusals++
		r.mu.Unlock()
	case m != Refuse && old == Refuse:
		if err := errors.Join(r.grpcLn.reopen(), r.httpLn.reopen()); err != nil {
			return fmt.Errorf("otlptest: listen again: %w", err)
		}
	}
	return nil
}

// TraceBatches returns the trace exports recorded so far.
func (r *Receiver) TraceBatches() []TraceBatch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]TraceBatch(nil), r.traces...)
}

// MetricBatches returns the metric exports recorded so far.
func (r *Receiver) MetricBatches() []MetricBatch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]MetricBatch(nil), r.metrics...)
}

// Counts returns the request counts so far.
func (r *Receiver) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts
}

// Reset forgets what was recorded and counted.
func (r *Receiver) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.traces, r.metrics, r.counts = nil, nil, Counts{}
}

// ReceivedSpan is a span with the resource it came with.
type ReceivedSpan struct {
	*tracepb.Span
	Resource  *resourcepb.Resource
	Scope     *commonpb.InstrumentationScope
	Transport Transport
}

// Spans returns every recorded span in arrival order.
func (r *Receiver) Spans() []ReceivedSpan {
	var out []ReceivedSpan
	for _, b := range r.TraceBatches() {
		for _, rs := range b.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					out = append(out, ReceivedSpan{Span: s, Resource: rs.Resource, Scope: ss.Scope, Transport: b.Transport})
				}
			}
		}
	}
	return out
}

// ReceivedMetric is a metric with the resource it came with.
type ReceivedMetric struct {
	*metricpb.Metric
	Resource  *resourcepb.Resource
	Scope     *commonpb.InstrumentationScope
	Transport Transport
}

// Metrics returns every recorded metric in arrival order (a cumulative
// metric appears once per export).
func (r *Receiver) Metrics() []ReceivedMetric {
	var out []ReceivedMetric
	for _, b := range r.MetricBatches() {
		for _, rm := range b.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					out = append(out, ReceivedMetric{Metric: m, Resource: rm.Resource, Scope: sm.Scope, Transport: b.Transport})
				}
			}
		}
	}
	return out
}

// MetricNames returns the distinct names of the recorded metrics, sorted.
func (r *Receiver) MetricNames() []string {
	seen := map[string]bool{}
	for _, m := range r.Metrics() {
		seen[m.Name] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// WaitFor waits until cond holds, checking after every request, and
// reports whether it did before timeout.
func (r *Receiver) WaitFor(timeout time.Duration, cond func(*Receiver) bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		changed := r.changed
		r.mu.Unlock()
		if cond(r) {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return cond(r)
		}
	}
}

// Attr returns the string form of attribute key in kvs.
func Attr(kvs []*commonpb.KeyValue, key string) (string, bool) {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return anyString(kv.GetValue()), true
		}
	}
	return "", false
}

func anyString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprint(x.IntValue)
	case *commonpb.AnyValue_DoubleValue:
		return fmt.Sprint(x.DoubleValue)
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprint(x.BoolValue)
	}
	return v.String()
}

// answer decides what a request gets in the current mode. It returns nil
// to record and answer success; otherwise it has waited (BlackHole) and
// returns the error to give.
func (r *Receiver) answer(ctx context.Context) error {
	switch Mode(r.mode.Load()) {
	case BlackHole:
		r.count(func(c *Counts) { c.BlackHoled++ })
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.closed:
			return errors.New("otlptest: closed")
		}
	case Reject, Refuse: // Refuse: a request on a connection that slipped through
		r.count(func(c *Counts) { c.Rejected++ })
		return errRejected
	}
	return nil
}

var errRejected = errors.New("otlptest: rejecting exports")

func (r *Receiver) count(f func(*Counts)) {
	r.mu.Lock()
	f(&r.counts)
	r.notifyLocked()
	r.mu.Unlock()
}

func (r *Receiver) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *Receiver) recordTraces(t Transport, md metadata.MD, rs []*tracepb.ResourceSpans) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.traces = append(r.traces, TraceBatch{Transport: t, Header: md, ResourceSpans: rs})
	r.counts.Traces++
	r.notifyLocked()
}

func (r *Receiver) recordMetrics(t Transport, md metadata.MD, rm []*metricpb.ResourceMetrics) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.metrics = append(r.metrics, MetricBatch{Transport: t, Header: md, ResourceMetrics: rm})
	r.counts.Metrics++
	r.notifyLocked()
}

type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	r *Receiver
}

func (s traceService) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	s.r.count(func(c *Counts) { c.GRPCCalls++ })
	if err := s.r.answer(ctx); err != nil {
		return nil, grpcError(err)
	}
	md, _ := metadata.FromIncomingContext(ctx)
	s.r.recordTraces(GRPC, md.Copy(), req.GetResourceSpans())
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

type metricService struct {
	colmetricpb.UnimplementedMetricsServiceServer
	r *Receiver
}

func (s metricService) Export(ctx context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	s.r.count(func(c *Counts) { c.GRPCCalls++ })
	if err := s.r.answer(ctx); err != nil {
		return nil, grpcError(err)
	}
	md, _ := metadata.FromIncomingContext(ctx)
	s.r.recordMetrics(GRPC, md.Copy(), req.GetResourceMetrics())
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

func grpcError(err error) error {
	if errors.Is(err, errRejected) {
		return status.Error(codes.Unavailable, err.Error())
	}
	return status.FromContextError(err).Err()
}

// maxBody bounds an HTTP export body, as a collector would.
const maxBody = 64 << 20

func (r *Receiver) serveHTTPTraces(w http.ResponseWriter, req *http.Request) {
	var msg coltracepb.ExportTraceServiceRequest
	if !r.readHTTP(w, req, &msg) {
		return
	}
	r.recordTraces(HTTP, headerMD(req.Header), msg.GetResourceSpans())
	writeProto(w, &coltracepb.ExportTraceServiceResponse{})
}

func (r *Receiver) serveHTTPMetrics(w http.ResponseWriter, req *http.Request) {
	var msg colmetricpb.ExportMetricsServiceRequest
	if !r.readHTTP(w, req, &msg) {
		return
	}
	r.recordMetrics(HTTP, headerMD(req.Header), msg.GetResourceMetrics())
	writeProto(w, &colmetricpb.ExportMetricsServiceResponse{})
}

// readHTTP applies the mode and decodes the body into msg; on false it has
// answered already.
func (r *Receiver) readHTTP(w http.ResponseWriter, req *http.Request, msg proto.Message) bool {
	r.count(func(c *Counts) { c.HTTPCalls++ })
	if err := r.answer(req.Context()); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return false
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		r.count(func(c *Counts) { c.BadRequests++ })
		http.Error(w, "otlptest: want Content-Type application/x-protobuf, got "+ct, http.StatusUnsupportedMediaType)
		return false
	}
	var body io.Reader = http.MaxBytesReader(w, req.Body, maxBody)
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			r.count(func(c *Counts) { c.BadRequests++ })
			http.Error(w, err.Error(), http.StatusBadRequest)
			return false
		}
		defer zr.Close()
		body = io.LimitReader(zr, maxBody)
	}
	data, err := io.ReadAll(body)
	if err == nil {
		err = proto.Unmarshal(data, msg)
	}
	if err != nil {
		r.count(func(c *Counts) { c.BadRequests++ })
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func writeProto(w http.ResponseWriter, m proto.Message) {
	data, err := proto.Marshal(m)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(data)
}

func headerMD(h http.Header) metadata.MD {
	md := metadata.MD{}
	for k, v := range h {
		md.Append(k, v...)
	}
	return md
}
