package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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

	v1 "github.com/statefulroute/sfotel/examples/kratos/api/router/v1"
	"github.com/statefulroute/sfotel/exporters"
	sfkratos "github.com/statefulroute/sfotel/kratos"
	"github.com/statefulroute/sfotel/otelexec"
)

// The span kinds of docs/telemetry.md: the executor's span, and the Redis
// command spans under it when command spans are on.
const (
	executorSpanKind = trace.SpanKindInternal // command spans are on: they are the Redis calls
	commandSpanKind  = trace.SpanKindClient
)

// syncBuffer is the log sink: Kratos logs from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// spanSink is an in-process span exporter that keeps what it was given,
// also after Shutdown.
type spanSink struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
}

func (s *spanSink) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spans = append(s.spans, spans...)
	return nil
}
func (s *spanSink) Shutdown(context.Context) error { return nil }
func (s *spanSink) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.spans)
}

type running struct {
	r        *router
	conf     string // the namespace
	logs     *syncBuffer
	recorder *tracetest.SpanRecorder
	batched  *spanSink
	httpURL  string
	conn     *grpc.ClientConn
	client   v1.RouterClient
	done     chan error
}

// startRouter runs the example as main does, from configs/config.yaml, with
// the servers on free loopback ports, the test's Redis and a namespace of
// its own.
func startRouter(t *testing.T) *running {
	t.Helper()
	c, err := loadConfig("configs/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.Server.Http.Addr = "127.0.0.1:0"
	c.Server.Grpc.Addr = "127.0.0.1:0"
	c.Server.StopTimeout = durationpb.New(5 * time.Second)
	c.Data.Redis.Addr = redisAddr(t)
	c.Router.Namespace = testNamespace(t)

	rn := &running{conf: c.Router.Namespace, logs: &syncBuffer{}, recorder: tracetest.NewSpanRecorder(), batched: &spanSink{}, done: make(chan error, 1)}
	rn.r, err = newRouter(context.Background(), c, newLogger(rn.logs),
		exporters.WithoutOTLP(),
		exporters.WithSpanProcessor(rn.recorder),
		// Only a flush empties this one: it shows what shutdown delivers.
		exporters.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(rn.batched, sdktrace.WithBatchTimeout(time.Hour), sdktrace.WithMaxExportBatchSize(1<<20), sdktrace.WithMaxQueueSize(1<<20))))
	if err != nil {
		t.Fatal(err)
	}
	hu, err := rn.r.http.Endpoint()
	if err != nil {
		t.Fatal(err)
	}
	gu, err := rn.r.grpc.Endpoint()
	if err != nil {
		t.Fatal(err)
	}
	rn.httpURL = "http://" + hu.Host
	go func() { rn.done <- rn.r.run() }()
	t.Cleanup(func() { rn.stop(t) })

	rn.conn, err = grpc.NewClient(gu.Host, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rn.conn.Close() })
	rn.client = v1.NewRouterClient(rn.conn)

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(rn.httpURL + "/metrics")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the router did not come up: %v\n%s", err, rn.logs)
		}
		select {
		case err := <-rn.done:
			t.Fatalf("the router stopped before serving: %v\n%s", err, rn.logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return rn
}

func (rn *running) stop(t *testing.T) error {
	t.Helper()
	if rn.r == nil {
		return nil
	}
	if err := rn.r.app.Stop(); err != nil {
		t.Errorf("app.Stop: %v", err)
	}
	select {
	case err := <-rn.done:
		rn.r = nil
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("the router did not stop")
		return nil
	}
}

func (rn *running) do(t *testing.T, method, path, body string, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, rn.httpURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

// TestLoginLookupLogout walks a user through the API over both transports.
func TestLoginLookupLogout(t *testing.T) {
	rn := startRouter(t)
	ctx := context.Background()

	// Pod 0 has the lowest load of the heartbeats.
	code, body := rn.do(t, http.MethodPost, "/v1/login", `{"uid":"alice"}`, nil)
	if code != http.StatusOK || decode[map[string]int](t, body)["pod"] != 0 {
		t.Fatalf("HTTP login: %d %s, want 200 and pod 0", code, body)
	}
	lk, err := rn.client.Lookup(ctx, &v1.LookupRequest{Uid: "alice"})
	if err != nil || lk.GetPod() != 0 {
		t.Fatalf("gRPC lookup: %v, %v; want pod 0", lk, err)
	}
	// Once linked, a user keeps the pod: login over gRPC agrees.
	li, err := rn.client.Login(ctx, &v1.LoginRequest{Uid: "alice", Service: "match"})
	if err != nil || li.GetPod() != 0 {
		t.Fatalf("gRPC login: %v, %v", li, err)
	}
	out, err := rn.client.Logout(ctx, &v1.LogoutRequest{Uid: "alice", GraceSeconds: -1})
	if err != nil || !out.GetRemoved() {
		t.Fatalf("gRPC logout: %v, %v", out, err)
	}
	code, body = rn.do(t, http.MethodGet, "/v1/lookup?uid=alice", "", nil)
	if code != http.StatusOK || decode[map[string]int](t, body)["pod"] != -1 {
		t.Fatalf("HTTP lookup after logout: %d %s, want pod -1", code, body)
	}
	// With the default grace period, the link outlives the logout.
	rn.client.Login(ctx, &v1.LoginRequest{Uid: "bob"})
	code, body = rn.do(t, http.MethodPost, "/v1/logout", `{"uid":"bob"}`, nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"removed":true`) {
		t.Fatalf("HTTP logout: %d %s", code, body)
	}
	if lk, err := rn.client.Lookup(ctx, &v1.LookupRequest{Uid: "bob"}); err != nil || lk.GetPod() != 0 {
		t.Fatalf("lookup in the grace period: %v, %v; want pod 0", lk, err)
	}
}

// TestNoLivePod: without heartbeats, login is the router's own 503.
func TestNoLivePod(t *testing.T) {
	rn := startRouter(t)
	_, err := rn.client.Login(context.Background(), &v1.LoginRequest{Uid: "carol", Service: "no-such-service"})
	if status.Code(err) != codes.Unavailable || !strings.Contains(fmt.Sprint(errorInfo(err)), ReasonNoLivePod) {
		t.Errorf("login to a service without pods: %v, want Unavailable %s", err, ReasonNoLivePod)
	}
}

func errorInfo(err error) *errdetails.ErrorInfo {
	for _, d := range status.Convert(err).Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			return i
		}
	}
	return nil
}

// TestBadUID: 400 with the reason and field over HTTP, InvalidArgument with
// the same ErrorInfo over gRPC.
func TestBadUID(t *testing.T) {
	rn := startRouter(t)
	code, body := rn.do(t, http.MethodPost, "/v1/login", `{"uid":"bad{uid}"}`, nil)
	st := decode[struct {
		Reason   string
		Metadata map[string]string
	}](t, body)
	if code != http.StatusBadRequest || st.Reason != sfkratos.ReasonInvalidArgument || st.Metadata["field"] != "uid" {
		t.Errorf("HTTP: %d %s, want 400 %s field=uid", code, body, sfkratos.ReasonInvalidArgument)
	}
	_, err := rn.client.Login(context.Background(), &v1.LoginRequest{Uid: "bad{uid}"})
	info := errorInfo(err)
	if status.Code(err) != codes.InvalidArgument || info == nil || info.Reason != sfkratos.ReasonInvalidArgument || info.Metadata["field"] != "uid" {
		t.Errorf("gRPC: %v (%v), want InvalidArgument %s field=uid", err, info, sfkratos.ReasonInvalidArgument)
	}
	// A logout with grace 0 and a configured grace of 0 would be refused
	// by the executor; an explicit bad grace period is named.
	_, err = rn.client.Logout(context.Background(), &v1.LogoutRequest{Uid: "u", GraceSeconds: -5})
	if info := errorInfo(err); status.Code(err) != codes.InvalidArgument || info == nil || info.Metadata["field"] != "persistSeconds" {
		t.Errorf("gRPC logout with grace -5: %v (%v), want InvalidArgument field=persistSeconds", err, info)
	}
}

// TestOneScrape: one /metrics has Kratos' server_requests_* for both
// transports and sfotel's executor, Redis and exporter series, and passes
// promtool's lint.
func TestOneScrape(t *testing.T) {
	rn := startRouter(t)
	rn.do(t, http.MethodPost, "/v1/login", `{"uid":"dave"}`, nil)
	if _, err := rn.client.Lookup(context.Background(), &v1.LookupRequest{Uid: "dave"}); err != nil {
		t.Fatal(err)
	}
	code, body := rn.do(t, http.MethodGet, "/metrics", "", nil)
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	scrape := string(body)
	for _, want := range []string{
		`server_requests_code_total{code="200",kind="http",operation="/router.v1.Router/Login",reason=""} 1`,
		`server_requests_code_total{code="200",kind="grpc",operation="/router.v1.Router/Lookup",reason=""} 1`,
		`server_requests_seconds_bucket{kind="http",operation="/router.v1.Router/Login",le="+Inf"} 1`,
		`server_requests_seconds_count{kind="grpc",operation="/router.v1.Router/Lookup"} 1`,
		`stateful_executor_operations_total{operation="ComputeLinkedPod",status="ok"} 1`,
		`stateful_executor_operations_total{operation="GetLinkedPod",status="ok"} 1`,
		`stateful_executor_operation_duration_seconds_bucket{operation="ComputeLinkedPod"`,
		`db_client_operation_duration_seconds_bucket{`,
		`target_info{`,
	} {
		if !strings.Contains(scrape, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The scrape itself is no request: /metrics is not routed through
	// Kratos' router, so no middleware runs for it.
	if strings.Contains(scrape, `operation="/metrics"`) {
		t.Error("/metrics counted itself as a request")
	}

	t.Run("promtool", func(t *testing.T) {
		promtool, err := exec.LookPath("promtool")
		if err != nil {
			if os.Getenv("REDIS_REQUIRED") == "1" {
				t.Fatal("promtool not found and REDIS_REQUIRED=1: install Debian's prometheus package")
			}
			t.Skip("promtool not installed (apt-get install prometheus); set REDIS_REQUIRED=1 to make this a failure")
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.CombinedOutput()
		// promtool exits 3 for lint findings and 1 for errors. Two findings
		// are known and not this example's to fix: Kratos' instruments have
		// no description (an empty HELP), and redisinstr's semconv gauge
		// db.client.connection.count ends in _count.
		known := []string{"no help text", `db_client_connection_count non-histogram and non-summary metrics should not have "_count" suffix`}
	lines:
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			for _, k := range known {
				if strings.Contains(line, k) {
					continue lines
				}
			}
			if line != "" {
				t.Errorf("promtool: %s", line)
			}
		}
		if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 3) {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})
}

// TestDebugReport: the live report sees the Kratos requests' operations.
func TestDebugReport(t *testing.T) {
	rn := startRouter(t)
	rn.do(t, http.MethodPost, "/v1/login", `{"uid":"erin"}`, nil)
	code, body := rn.do(t, http.MethodGet, "/debug/report?format=json", "", nil)
	if code != http.StatusOK {
		t.Fatalf("/debug/report: %d %s", code, body)
	}
	rep := decode[struct {
		Service struct {
			Name string `json:"name"`
		} `json:"service"`
		Operations []struct {
			Name  string `json:"name"`
			Count uint64 `json:"count"`
		} `json:"operations"`
	}](t, body)
	if rep.Service.Name != serviceName {
		t.Errorf("report service %q, want %q", rep.Service.Name, serviceName)
	}
	calls := map[string]uint64{}
	for _, op := range rep.Operations {
		calls[op.Name] = op.Count
	}
	if calls["ComputeLinkedPod"] != 1 || calls["SetServiceState"] == 0 {
		t.Errorf("report operations %v, want ComputeLinkedPod 1 and the heartbeats' SetServiceState", calls)
	}
}

// TestTraceparent: a request with a traceparent is one trace, over both
// transports: Kratos' server span, child of the caller's; the executor's,
// child of it; the Redis command spans, children of the executor's.
func TestTraceparent(t *testing.T) {
	rn := startRouter(t)
	for i, transport := range []string{"http", "grpc"} {
		t.Run(transport, func(t *testing.T) {
			traceID := fmt.Sprintf("4bf92f3577b34da6a3ce929d0e0e473%d", i)
			const parentID = "00f067aa0ba902b7"
			tp := "00-" + traceID + "-" + parentID + "-01"
			uid := "frank-" + transport
			switch transport {
			case "http":
				if code, body := rn.do(t, http.MethodPost, "/v1/login", `{"uid":"`+uid+`"}`, http.Header{"Traceparent": {tp}}); code != http.StatusOK {
					t.Fatalf("login: %d %s", code, body)
				}
			case "grpc":
				ctx := grpcmd.AppendToOutgoingContext(context.Background(), "traceparent", tp)
				if _, err := rn.client.Login(ctx, &v1.LoginRequest{Uid: uid}); err != nil {
					t.Fatal(err)
				}
			}
			var server, executor sdktrace.ReadOnlySpan
			var commands []sdktrace.ReadOnlySpan
			for _, sp := range rn.recorder.Ended() {
				if sp.SpanContext().TraceID().String() != traceID {
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
				t.Fatalf("trace %s: server %v, executor %v, %d commands; want all three", traceID, server != nil, executor != nil, len(commands))
			}
			if server.SpanKind() != trace.SpanKindServer || server.Name() != operationLogin || server.Parent().SpanID().String() != parentID {
				t.Errorf("server span %s %q, parent %s; want server %q, parent %s", server.SpanKind(), server.Name(), server.Parent().SpanID(), operationLogin, parentID)
			}
			if executor.Name() != "ComputeLinkedPod" || executor.SpanKind() != executorSpanKind || executor.Parent().SpanID() != server.SpanContext().SpanID() {
				t.Errorf("executor span %s %q, parent %s; want %s ComputeLinkedPod under %s", executor.SpanKind(), executor.Name(), executor.Parent().SpanID(), executorSpanKind, server.SpanContext().SpanID())
			}
			for _, c := range commands {
				if c.SpanKind() != commandSpanKind || c.Parent().SpanID() != executor.SpanContext().SpanID() {
					t.Errorf("command span %s %q, parent %s; want %s under the executor span", c.SpanKind(), c.Name(), c.Parent().SpanID(), commandSpanKind)
				}
			}
		})
	}
}

// TestNoUIDInTelemetry: the uids of a session's requests appear in no log
// line (Kratos' logging middleware included) and in no span attribute,
// event or status of any span, Kratos' own included.
func TestNoUIDInTelemetry(t *testing.T) {
	rn := startRouter(t)
	const uid = "uid-7f3a9c-secret"
	ctx := context.Background()
	rn.do(t, http.MethodPost, "/v1/login", `{"uid":"`+uid+`"}`, nil)
	rn.do(t, http.MethodGet, "/v1/lookup?uid="+uid, "", nil)
	rn.do(t, http.MethodPost, "/v1/logout", `{"uid":"`+uid+`"}`, nil)
	rn.client.Login(ctx, &v1.LoginRequest{Uid: uid})
	rn.client.Lookup(ctx, &v1.LookupRequest{Uid: uid})
	rn.client.Logout(ctx, &v1.LogoutRequest{Uid: uid, GraceSeconds: -1})
	rn.client.Login(ctx, &v1.LoginRequest{Uid: uid + "{"}) // a refused one, whose error is logged
	if err := rn.stop(t); err != nil {
		t.Fatal(err)
	}
	if logs := rn.logs.String(); strings.Contains(logs, uid) {
		t.Errorf("a log line has the uid:\n%s", grep(logs, uid))
	} else if !strings.Contains(logs, "/router.v1.Router/Login") {
		t.Errorf("the logging middleware logged nothing: %s", logs)
	}
	spans := rn.recorder.Ended()
	if len(spans) < 7 {
		t.Fatalf("%d spans, want at least the 7 requests'", len(spans))
	}
	for _, sp := range spans {
		check := func(where, s string) {
			if strings.Contains(s, uid) {
				t.Errorf("span %q (%s): %s has the uid: %s", sp.Name(), sp.InstrumentationScope().Name, where, s)
			}
		}
		check("name", sp.Name())
		check("status", sp.Status().Description)
		for _, a := range sp.Attributes() {
			check(string(a.Key), a.Value.Emit())
		}
		for _, e := range sp.Events() {
			check("event "+e.Name, e.Name)
			for _, a := range e.Attributes {
				check("event "+e.Name+" "+string(a.Key), a.Value.Emit())
			}
		}
	}
}

func grep(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestShutdownFlushes: spans held by a batch processor that only a flush
// empties reach the exporter when the app stops.
func TestShutdownFlushes(t *testing.T) {
	rn := startRouter(t)
	if code, body := rn.do(t, http.MethodPost, "/v1/login", `{"uid":"gina"}`, nil); code != http.StatusOK {
		t.Fatalf("login: %d %s", code, body)
	}
	if n := rn.batched.len(); n != 0 {
		t.Fatalf("%d spans exported before stop", n)
	}
	if err := rn.stop(t); err != nil {
		t.Fatalf("run: %v", err)
	}
	names := map[string]bool{}
	rn.batched.mu.Lock()
	for _, sp := range rn.batched.spans {
		names[sp.Name()] = true
	}
	rn.batched.mu.Unlock()
	if !names[operationLogin] || !names["ComputeLinkedPod"] {
		t.Errorf("after stop the exporter has %v; want %s and ComputeLinkedPod", names, operationLogin)
	}
}

// The tests' Redis: REDIS_ADDR, else 127.0.0.1:6379. Without one they skip,
// unless REDIS_REQUIRED=1 (CI), where they fail.
var (
	redisOnce sync.Once
	redisErr  error
)

func redisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	redisOnce.Do(func() {
		rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second})
		defer rdb.Close()
		redisErr = rdb.Ping(context.Background()).Err()
	})
	if redisErr != nil {
		if os.Getenv("REDIS_REQUIRED") == "1" {
			t.Fatalf("no Redis at %s: %v", addr, redisErr)
		}
		t.Skipf("no Redis at %s (set REDIS_ADDR): %v", addr, redisErr)
	}
	return addr
}

// testNamespace is a namespace of the test's own; its keys are deleted at
// the end.
func testNamespace(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	ns := "kratos-example-" + hex.EncodeToString(b)
	addr := redisAddr(t)
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer rdb.Close()
		ctx := context.Background()
		var keys []string
		iter := rdb.Scan(ctx, 0, "sf:{"+ns+":*", 100).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return ns
}
