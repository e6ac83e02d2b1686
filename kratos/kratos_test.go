package sfkratos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kratos/kratos/v2"
	"github.com/go-kratos/kratos/v2/log"
	"github.com/go-kratos/kratos/v2/middleware"
	"github.com/go-kratos/kratos/v2/middleware/metrics"
	"github.com/go-kratos/kratos/v2/middleware/tracing"
	kgrpc "github.com/go-kratos/kratos/v2/transport/grpc"
	khttp "github.com/go-kratos/kratos/v2/transport/http"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/statefulroute/sfotel/exporters"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/redisinstr"
)

// The spans a request makes, by kind, as docs/telemetry.md describes them:
// Kratos' server span; the executor's span; redisinstr's command spans.
const (
	executorSpanKind = trace.SpanKindInternal // command spans are on: they are the Redis calls
	commandSpanKind  = trace.SpanKindClient
)

const (
	testService  = "match"
	loginMethod  = "/sfkratos.test.Router/Login"
	traceIDHex   = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentIDHex  = "00f067aa0ba902b7"
	traceparent  = "00-" + traceIDHex + "-" + parentIDHex + "-01"
	aliveWithin  = 30 * time.Second
	testStopTime = 5 * time.Second
)

// router is the test service: login (ComputeLinkedPod) over HTTP and gRPC.
type router struct {
	exec *otelexec.Executor
	ns   string
}

func (r *router) login(ctx context.Context, uid string) (int, error) {
	return r.exec.ComputeLinkedPod(ctx, r.ns, uid, testService, aliveWithin, otelexec.PersistForever)
}

// routerServer is what protoc-gen-go-grpc would generate for
//
//	service Router { rpc Login(google.protobuf.StringValue) returns (google.protobuf.Int64Value); }
type routerServer interface {
	Login(context.Context, *wrapperspb.StringValue) (*wrapperspb.Int64Value, error)
}

type grpcRouter struct{ r *router }

func (g grpcRouter) Login(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.Int64Value, error) {
	pod, err := g.r.login(ctx, in.GetValue())
	if err != nil {
		return nil, err // Middleware maps it
	}
	return wrapperspb.Int64(int64(pod)), nil
}

var routerDesc = grpc.ServiceDesc{
	ServiceName: "sfkratos.test.Router",
	HandlerType: (*routerServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Login",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req any) (any, error) {
				return srv.(routerServer).Login(ctx, req.(*wrapperspb.StringValue))
			}
			if interceptor == nil {
				return h(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: loginMethod}, h)
		},
	}},
}

// metricNames is an in-process metric exporter: it keeps the names of the
// metrics it was given, so a test can tell what reached it and when.
type metricNames struct {
	mu    sync.Mutex
	names map[string]bool
}

func (m *metricNames) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}
func (m *metricNames) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}
func (m *metricNames) Export(_ context.Context, rm *metricdata.ResourceMetrics) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.names == nil {
		m.names = map[string]bool{}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			m.names[mt.Name] = true
		}
	}
	return nil
}
func (m *metricNames) ForceFlush(context.Context) error { return nil }
func (m *metricNames) Shutdown(context.Context) error   { return nil }
func (m *metricNames) has(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.names[name]
}

// spanNames is an in-process span exporter that keeps the names of the
// spans it was given, also after Shutdown (tracetest's InMemoryExporter
// forgets them there, which is when this test looks).
type spanNames struct {
	mu    sync.Mutex
	names map[string]bool
}

func (e *spanNames) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.names == nil {
		e.names = map[string]bool{}
	}
	for _, sp := range spans {
		e.names[sp.Name()] = true
	}
	return nil
}
func (e *spanNames) Shutdown(context.Context) error { return nil }
func (e *spanNames) get() map[string]bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.names)
}

// service is a running Kratos app with the executor, as a user builds it.
type service struct {
	app      *kratos.App
	lc       *Lifecycle
	rdb      *redis.Client
	exec     *otelexec.Executor
	tel      *exporters.Telemetry
	recorder *tracetest.SpanRecorder // every span, at once
	batched  *spanNames              // spans through a batch processor that only a flush empties
	metrics  *metricNames            // metrics through a reader that only a flush exports
	manual   *sdkmetric.ManualReader // metrics on demand
	httpURL  string
	grpcAddr string
	done     chan error // Run's result
}

func startService(t *testing.T) *service {
	t.Helper()
	ctx := context.Background()
	ns := testNamespace(t)
	s := &service{recorder: tracetest.NewSpanRecorder(), batched: &spanNames{}, metrics: &metricNames{}, manual: sdkmetric.NewManualReader(), done: make(chan error, 1)}

	var err error
	s.tel, err = exporters.Setup(ctx,
		exporters.WithServiceName("sfkratos-test"),
		exporters.WithPrometheus(),
		exporters.WithoutOTLP(),
		exporters.WithSpanProcessor(s.recorder),
		exporters.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(s.batched, sdktrace.WithBatchTimeout(time.Hour), sdktrace.WithMaxExportBatchSize(1<<20), sdktrace.WithMaxQueueSize(1<<20))),
		exporters.WithReader(sdkmetric.NewPeriodicReader(s.metrics, sdkmetric.WithInterval(time.Hour))),
		exporters.WithReader(s.manual),
	)
	if err != nil {
		t.Fatal(err)
	}
	tp, mp := s.tel.TracerProvider(), s.tel.MeterProvider()

	s.rdb, err = NewRedisClient(&layoutRedis{Network: "tcp", Addr: redisAddr(t), ReadTimeout: durationpb.New(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	inst, err := redisinstr.Instrument(s.rdb, redisinstr.WithTracerProvider(tp), redisinstr.WithMeterProvider(mp), redisinstr.WithCommandSpans(true))
	if err != nil {
		t.Fatal(err)
	}
	logger := log.NewStdLogger(io.Discard)
	s.exec, err = otelexec.New(s.rdb, otelexec.WithTracerProvider(tp), otelexec.WithMeterProvider(mp), otelexec.WithRedisCommandSpans(true), otelexec.WithLogger(NewSlogLogger(logger)))
	if err != nil {
		t.Fatal(err)
	}
	// Two live pods, so ComputeLinkedPod has somewhere to send users.
	for pod, load := range map[int]int{1: 5, 2: 3} {
		if err := s.exec.SetServiceState(ctx, ns, testService, pod, otelexec.FormatPodState(load, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	s.recorder.Reset()

	meter := mp.Meter("kratos")
	requests, err := metrics.DefaultRequestsCounter(meter, metrics.DefaultServerRequestsCounterName)
	if err != nil {
		t.Fatal(err)
	}
	seconds, err := metrics.DefaultSecondsHistogram(meter, "server_requests_seconds")
	if err != nil {
		t.Fatal(err)
	}
	chain := []middleware.Middleware{
		tracing.Server(tracing.WithTracerProvider(tp), tracing.WithPropagator(propagation.TraceContext{})),
		metrics.Server(metrics.WithRequests(requests), metrics.WithSeconds(seconds)),
		Middleware(),
	}
	r := &router{exec: s.exec, ns: ns}

	hs := khttp.NewServer(khttp.Address("127.0.0.1:0"), khttp.Middleware(chain...), khttp.Logger(logger))
	hs.Route("/").GET("/v1/login/{uid}", func(ctx khttp.Context) error {
		khttp.SetOperation(ctx, loginMethod)
		h := ctx.Middleware(func(ctx context.Context, req any) (any, error) {
			pod, err := r.login(ctx, req.(string))
			return map[string]int{"pod": pod}, err
		})
		out, err := h(ctx, ctx.Vars().Get("uid"))
		if err != nil {
			return err
		}
		return ctx.Result(http.StatusOK, out)
	})
	hs.Handle("/metrics", s.tel.Prometheus())
	gs := kgrpc.NewServer(kgrpc.Address("127.0.0.1:0"), kgrpc.Middleware(chain...), kgrpc.Logger(logger))
	gs.RegisterService(&routerDesc, grpcRouter{r})

	hu, err := hs.Endpoint()
	if err != nil {
		t.Fatal(err)
	}
	gu, err := gs.Endpoint()
	if err != nil {
		t.Fatal(err)
	}
	s.httpURL, s.grpcAddr = "http://"+hu.Host, gu.Host

	s.lc, err = NewLifecycle(WithTelemetry(s.tel), WithInstrumentation(inst), WithExecutor(s.exec), WithRedisClient(s.rdb), WithStopTimeout(testStopTime))
	if err != nil {
		t.Fatal(err)
	}
	s.app = kratos.New(append(s.lc.Options(), kratos.Name("sfkratos-test"), kratos.Server(hs, gs), kratos.Logger(logger))...)
	go func() { s.done <- s.app.Run() }()
	t.Cleanup(func() { s.stop(t) })
	s.waitReady(t)
	return s
}

func (s *service) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.httpURL + "/metrics")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("app.Run returned before serving: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("the Kratos HTTP server did not come up")
}

// stop stops the app and waits for Run, which returns after the AfterStop
// hooks, so after the Lifecycle's Stop.
func (s *service) stop(t *testing.T) error {
	t.Helper()
	if s.app == nil {
		return nil
	}
	if err := s.app.Stop(); err != nil {
		t.Errorf("app.Stop: %v", err)
	}
	select {
	case err := <-s.done:
		s.app = nil
		return err
	case <-time.After(3 * testStopTime):
		t.Fatal("app.Run did not return after Stop")
		return nil
	}
}

func (s *service) grpcConn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func (s *service) grpcLogin(t *testing.T, ctx context.Context, uid string) (int64, error) {
	t.Helper()
	out := new(wrapperspb.Int64Value)
	err := s.grpcConn(t).Invoke(ctx, loginMethod, wrapperspb.String(uid), out)
	return out.GetValue(), err
}

func (s *service) httpGet(t *testing.T, path string, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.httpURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// TestTraceparentMakesOneTrace: a request carrying a W3C traceparent, over
// HTTP and over gRPC, gives one trace: the Kratos server span, child of the
// caller's span; the executor's span, child of the server span; the Redis
// command spans, children of the executor's span.
func TestTraceparentMakesOneTrace(t *testing.T) {
	s := startService(t)
	for _, transport := range []string{"http", "grpc"} {
		t.Run(transport, func(t *testing.T) {
			s.recorder.Reset()
			switch transport {
			case "http":
				code, body := s.httpGet(t, "/v1/login/user-"+transport, http.Header{"Traceparent": {traceparent}})
				if code != http.StatusOK || !strings.Contains(string(body), `"pod":2`) {
					t.Fatalf("login: %d %s, want 200 and pod 2 (the lower load)", code, body)
				}
			case "grpc":
				ctx := grpcmd.AppendToOutgoingContext(context.Background(), "traceparent", traceparent)
				pod, err := s.grpcLogin(t, ctx, "user-"+transport)
				if err != nil || pod != 2 {
					t.Fatalf("login: %d, %v; want pod 2", pod, err)
				}
			}
			checkOneTrace(t, s.recorder.Ended())
		})
	}
}

func checkOneTrace(t *testing.T, spans []sdktrace.ReadOnlySpan) {
	t.Helper()
	var server, executor sdktrace.ReadOnlySpan
	var commands []sdktrace.ReadOnlySpan
	for _, sp := range spans {
		if sp.SpanContext().TraceID().String() != traceIDHex {
			// Only the prober's PINGs may live in traces of their own.
			if sp.Parent().IsValid() || sp.InstrumentationScope().Name == "kratos" || sp.InstrumentationScope().Name == otelexec.ScopeName {
				t.Errorf("span %q (%s) is in trace %s, not the request's", sp.Name(), sp.InstrumentationScope().Name, sp.SpanContext().TraceID())
			}
			continue
		}
		switch sp.InstrumentationScope().Name {
		case "kratos":
			server = sp
		case otelexec.ScopeName:
			executor = sp
		default:
			commands = append(commands, sp)
		}
	}
	if server == nil || executor == nil || len(commands) == 0 {
		t.Fatalf("trace %s: server span %v, executor span %v, %d command spans; want all three", traceIDHex, server != nil, executor != nil, len(commands))
	}
	if server.SpanKind() != trace.SpanKindServer || server.Name() != loginMethod {
		t.Errorf("server span: %s %q, want server %q", server.SpanKind(), server.Name(), loginMethod)
	}
	if got := server.Parent().SpanID().String(); got != parentIDHex || !server.Parent().IsRemote() {
		t.Errorf("server span's parent = %s (remote %v), want the traceparent's %s", got, server.Parent().IsRemote(), parentIDHex)
	}
	if executor.Name() != "ComputeLinkedPod" || executor.SpanKind() != executorSpanKind {
		t.Errorf("executor span: %s %q, want %s ComputeLinkedPod", executor.SpanKind(), executor.Name(), executorSpanKind)
	}
	if executor.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("executor span's parent = %s, want the server span %s", executor.Parent().SpanID(), server.SpanContext().SpanID())
	}
	for _, c := range commands {
		if c.Parent().SpanID() != executor.SpanContext().SpanID() {
			t.Errorf("command span %q: parent %s, want the executor span %s", c.Name(), c.Parent().SpanID(), executor.SpanContext().SpanID())
		}
		if c.SpanKind() != commandSpanKind {
			t.Errorf("command span %q: kind %s, want %s", c.Name(), c.SpanKind(), commandSpanKind)
		}
	}
}

// TestRequestMetricsCarryTheTrace: with Kratos' tracing middleware before
// its metrics middleware, the request counter is recorded inside the server
// span, so its data point carries the request's trace as an exemplar (the
// SDK's default, trace-based exemplar filter): the link from a metric to a
// trace that docs/kratos.md gives as the reason for that order.
func TestRequestMetricsCarryTheTrace(t *testing.T) {
	s := startService(t)
	if code, body := s.httpGet(t, "/v1/login/user-exemplar", http.Header{"Traceparent": {traceparent}}); code != http.StatusOK {
		t.Fatalf("login: %d %s", code, body)
	}
	var rm metricdata.ResourceMetrics
	if err := s.manual.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != metrics.DefaultServerRequestsCounterName {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				t.Fatalf("%s is %T", m.Name, m.Data)
			}
			for _, dp := range sum.DataPoints {
				for _, ex := range dp.Exemplars {
					if fmt.Sprintf("%x", ex.TraceID) == traceIDHex {
						found = true
					}
				}
			}
		}
	}
	if !found {
		t.Errorf("no %s data point has an exemplar of trace %s", metrics.DefaultServerRequestsCounterName, traceIDHex)
	}
}

// TestBadUID: a uid the executor refuses is a 400 with the reason and the
// field over HTTP, InvalidArgument with the same ErrorInfo over gRPC, and
// Kratos' request counter records code 400 with the reason.
func TestBadUID(t *testing.T) {
	s := startService(t)

	code, body := s.httpGet(t, "/v1/login/bad%7Buid%7D", nil)
	var st struct {
		Code     int               `json:"code"`
		Reason   string            `json:"reason"`
		Message  string            `json:"message"`
		Metadata map[string]string `json:"metadata"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if code != http.StatusBadRequest || st.Code != 400 || st.Reason != ReasonInvalidArgument || st.Metadata[MetadataField] != "uid" {
		t.Errorf("HTTP: %d %s, want 400 with reason %s and field uid", code, body, ReasonInvalidArgument)
	}
	if strings.Contains(string(body), "bad{uid}") {
		t.Errorf("HTTP body repeats the uid: %s", body)
	}

	_, err := s.grpcLogin(t, context.Background(), "bad{uid}")
	gst := status.Convert(err)
	if gst.Code() != codes.InvalidArgument {
		t.Errorf("gRPC: %v, want InvalidArgument", err)
	}
	var info *errdetails.ErrorInfo
	for _, d := range gst.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info == nil || info.Reason != ReasonInvalidArgument || info.Metadata[MetadataField] != "uid" {
		t.Errorf("gRPC ErrorInfo = %v, want reason %s and field uid", info, ReasonInvalidArgument)
	}

	// The mapped code reached Kratos' metrics middleware: Middleware runs
	// inside it. Both metric families are in one scrape.
	_, scrape := s.httpGet(t, "/metrics", nil)
	for _, want := range []string{
		fmt.Sprintf(`server_requests_code_total{code="400",kind="http",operation=%q,reason=%q} 1`, loginMethod, ReasonInvalidArgument),
		fmt.Sprintf(`server_requests_code_total{code="400",kind="grpc",operation=%q,reason=%q} 1`, loginMethod, ReasonInvalidArgument),
		`stateful_executor_errors_total{error_type="invalid_argument",operation="ComputeLinkedPod"`,
	} {
		if !strings.Contains(string(scrape), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", grepLines(string(scrape), "server_requests", "stateful_executor_errors"))
	}
}

func grepLines(s string, subs ...string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(line, sub) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// TestLifecycleFlushesOnStop: spans and metrics that only a flush exports
// (a batch processor and a periodic reader with hour-long intervals) reach
// their exporters when the app stops, although Kratos hands AfterStop hooks
// an already canceled context; the executor, instrumentation and client are
// closed after.
func TestLifecycleFlushesOnStop(t *testing.T) {
	s := startService(t)
	if code, body := s.httpGet(t, "/v1/login/user-1", nil); code != http.StatusOK {
		t.Fatalf("login: %d %s", code, body)
	}
	if n := len(s.batched.get()); n != 0 {
		t.Fatalf("%d spans exported before stop: the batch processor should hold them", n)
	}
	if s.metrics.has("stateful_executor.operations") {
		t.Fatal("metrics exported before stop: the periodic reader should hold them")
	}
	if err := s.stop(t); err != nil {
		t.Fatalf("app.Run: %v", err)
	}
	names := s.batched.get()
	if !names[loginMethod] || !names["ComputeLinkedPod"] {
		t.Errorf("after stop the exporter has spans %v; want %s and ComputeLinkedPod", names, loginMethod)
	}
	for _, m := range []string{"stateful_executor.operations", metrics.DefaultServerRequestsCounterName} {
		if !s.metrics.has(m) {
			t.Errorf("after stop the metric exporter lacks %s", m)
		}
	}
	if err := s.rdb.Ping(context.Background()).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("Redis client after stop: %v, want redis.ErrClosed", err)
	}
	if err := s.lc.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// TestLifecycleStartFails: with Redis down, Start fails and Kratos never
// starts the servers.
func TestLifecycleStartFails(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	lc, err := NewLifecycle(WithRedisClient(rdb))
	if err != nil {
		t.Fatal(err)
	}
	hs := khttp.NewServer(khttp.Address("127.0.0.1:0"))
	started := false
	app := kratos.New(append(lc.Options(), kratos.Server(hs), kratos.Logger(log.NewStdLogger(io.Discard)),
		kratos.AfterStart(func(context.Context) error { started = true; return nil }))...)
	err = app.Run()
	if err == nil || !strings.Contains(err.Error(), "sfkratos: Lifecycle.Start") || otelexec.ErrorType(err) != "connection" {
		t.Errorf("Run = %v, want the Lifecycle's connection error", err)
	}
	if started {
		t.Error("the servers started although Start failed")
	}
	if err := lc.Stop(context.Background()); err != nil {
		t.Errorf("Stop after a failed Start: %v", err)
	}
}

func TestNewLifecycleRejectsBadTimeout(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := NewLifecycle(WithStopTimeout(d)); err == nil || !strings.Contains(err.Error(), "WithStopTimeout") {
			t.Errorf("WithStopTimeout(%v): err = %v, want one naming the option", d, err)
		}
	}
	lc, err := NewLifecycle(nil, WithTelemetry(nil), WithExecutor(nil))
	if err != nil || lc.cfg.telemetry != nil || lc.cfg.stopTimeout != DefaultStopTimeout {
		t.Errorf("nil options: %v, %+v", err, lc)
	}
}
