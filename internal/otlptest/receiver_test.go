package otlptest

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"syscall"
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
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func traceRequest(spanName string) *coltracepb.ExportTraceServiceRequest {
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{
			Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "svc"}},
		}}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: spanName, TraceId: bytes.Repeat([]byte{1}, 16), SpanId: bytes.Repeat([]byte{2}, 8)}}}},
	}}}
}

func metricRequest(name string) *colmetricpb.ExportMetricsServiceRequest {
	return &colmetricpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricpb.ResourceMetrics{{
		ScopeMetrics: []*metricpb.ScopeMetrics{{Metrics: []*metricpb.Metric{{Name: name}}}},
	}}}
}

func grpcClient(t *testing.T, r *Receiver) (coltracepb.TraceServiceClient, colmetricpb.MetricsServiceClient) {
	t.Helper()
	conn, err := grpc.NewClient(r.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return coltracepb.NewTraceServiceClient(conn), colmetricpb.NewMetricsServiceClient(conn)
}

func postProto(ctx context.Context, url string, m proto.Message) (*http.Response, error) {
	data, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Api-Key", "k1")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	return resp, err
}

func TestReceiverRecordsBothTransports(t *testing.T) {
	r := Start(t)
	tc, mc := grpcClient(t, r)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", "k0")

	if _, err := tc.Export(ctx, traceRequest("over-grpc")); err != nil {
		t.Fatalf("gRPC trace export: %v", err)
	}
	if _, err := mc.Export(ctx, metricRequest("m.grpc")); err != nil {
		t.Fatalf("gRPC metric export: %v", err)
	}
	resp, err := postProto(context.Background(), r.HTTPEndpoint()+"/v1/traces", traceRequest("over-http"))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP trace export: %v %v", resp, err)
	}
	resp, err = postProto(context.Background(), r.HTTPEndpoint()+"/v1/metrics", metricRequest("m.http"))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP metric export: %v %v", resp, err)
	}

	spans := r.Spans()
	if len(spans) != 2 || spans[0].Name != "over-grpc" || spans[0].Transport != GRPC || spans[1].Name != "over-http" || spans[1].Transport != HTTP {
		t.Fatalf("spans = %+v", spans)
	}
	if v, ok := Attr(spans[1].Resource.GetAttributes(), "service.name"); !ok || v != "svc" {
		t.Errorf("service.name = %q, %v", v, ok)
	}
	if got := r.MetricNames(); len(got) != 2 || got[0] != "m.grpc" || got[1] != "m.http" {
		t.Errorf("MetricNames = %v", got)
	}
	b := r.TraceBatches()
	if got := b[0].Header.Get("x-api-key"); len(got) != 1 || got[0] != "k0" {
		t.Errorf("gRPC header = %v", got)
	}
	if got := b[1].Header.Get("x-api-key"); len(got) != 1 || got[0] != "k1" {
		t.Errorf("HTTP header = %v", got)
	}
	if c := r.Counts(); c.Traces != 2 || c.Metrics != 2 || c.GRPCCalls != 2 || c.HTTPCalls != 2 {
		t.Errorf("Counts = %+v", c)
	}
}

func TestReceiverRejectsBadContentType(t *testing.T) {
	r := Start(t)
	resp, err := http.Post(r.HTTPEndpoint()+"/v1/traces", "application/json", bytes.NewReader([]byte("{}")))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType || r.Counts().BadRequests != 1 || len(r.Spans()) != 0 {
		t.Fatalf("status %d, counts %+v", resp.StatusCode, r.Counts())
	}
}

func TestReceiverBlackHoleHoldsUntilDeadline(t *testing.T) {
	r := Start(t, WithMode(BlackHole))
	tc, _ := grpcClient(t, r)
	const wait = 200 * time.Millisecond

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	start := time.Now()
	_, err := tc.Export(ctx, traceRequest("lost"))
	if status.Code(err) != codes.DeadlineExceeded || time.Since(start) < wait {
		t.Fatalf("gRPC export in black hole: %v after %v", err, time.Since(start))
	}

	ctx, cancel = context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err = postProto(ctx, r.HTTPEndpoint()+"/v1/traces", traceRequest("lost"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("HTTP export in black hole: %v", err)
	}
	if c := r.Counts(); c.BlackHoled != 2 || c.Traces != 0 {
		t.Fatalf("Counts = %+v", c)
	}
}

func TestReceiverRejectAnswersRetryableErrors(t *testing.T) {
	r := Start(t, WithMode(Reject))
	tc, _ := grpcClient(t, r)
	if _, err := tc.Export(context.Background(), traceRequest("x")); status.Code(err) != codes.Unavailable {
		t.Fatalf("gRPC: %v", err)
	}
	resp, err := postProto(context.Background(), r.HTTPEndpoint()+"/v1/traces", traceRequest("x"))
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("HTTP: %v %v", resp, err)
	}
	if c := r.Counts(); c.Rejected != 2 || c.Traces != 0 {
		t.Fatalf("Counts = %+v", c)
	}
}

func TestReceiverRefuseThenAcceptOnSamePorts(t *testing.T) {
	r := Start(t)
	tc, _ := grpcClient(t, r)
	if _, err := tc.Export(context.Background(), traceRequest("before")); err != nil {
		t.Fatal(err)
	}
	grpcAddr, httpAddr := r.GRPCAddr(), r.HTTPAddr()

	if err := r.SetMode(Refuse); err != nil {
		t.Fatal(err)
	}
	_, err := postProto(context.Background(), r.HTTPEndpoint()+"/v1/traces", traceRequest("refused"))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("HTTP while refusing: %v, want connection refused", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := tc.Export(ctx, traceRequest("refused")); status.Code(err) != codes.Unavailable {
		t.Fatalf("gRPC while refusing: %v, want UNAVAILABLE", err)
	}

	if err := r.SetMode(Accept); err != nil {
		t.Fatal(err)
	}
	if r.GRPCAddr() != grpcAddr || r.HTTPAddr() != httpAddr {
		t.Fatalf("addresses moved: %s %s", r.GRPCAddr(), r.HTTPAddr())
	}
	resp, err := postProto(context.Background(), r.HTTPEndpoint()+"/v1/traces", traceRequest("after-http"))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP after refuse: %v %v", resp, err)
	}
	// gRPC reconnects with back-off; wait for it rather than fail fast.
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := tc.Export(ctx, traceRequest("after-grpc"), grpc.WaitForReady(true)); err != nil {
		t.Fatalf("gRPC after refuse: %v", err)
	}
	var names []string
	for _, s := range r.Spans() {
		names = append(names, s.Name)
	}
	if len(names) != 3 || names[0] != "before" || names[1] != "after-http" || names[2] != "after-grpc" {
		t.Fatalf("spans = %v", names)
	}
}

func TestReceiverWaitFor(t *testing.T) {
	r := Start(t)
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, _ = postProto(context.Background(), r.HTTPEndpoint()+"/v1/metrics", metricRequest("late"))
	}()
	if !r.WaitFor(5*time.Second, func(r *Receiver) bool { return len(r.MetricNames()) == 1 }) {
		t.Fatal("metric never arrived")
	}
	if r.WaitFor(50*time.Millisecond, func(r *Receiver) bool { return len(r.Spans()) > 0 }) {
		t.Fatal("WaitFor reported spans that never came")
	}
}
