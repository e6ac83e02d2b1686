package report_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/redisinstr"
	"github.com/statefulroute/sfotel/report"
)

// TestEndToEndWithRealRedis runs the real executor and Redis
// instrumentation against a real Redis and reads them back through the
// report: the names the report looks for are the names they record.
func TestEndToEndWithRealRedis(t *testing.T) {
	ctx := t.Context()
	collector, err := report.NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("e2e"), semconv.ServiceVersion("0.0.1"))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(collector.Reader()), sdkmetric.WithResource(res))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })

	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(t), PoolSize: 4, PipelinePoolSize: 2})
	t.Cleanup(func() { _ = rdb.Close() })
	inst, err := redisinstr.Instrument(rdb, redisinstr.WithMeterProvider(mp), redisinstr.WithProbeInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	exec, err := otelexec.New(rdb, otelexec.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exec.Close() })

	ns := redistest.Namespace(t)
	for i := range 50 {
		uid := fmt.Sprintf("user-%d", i)
		if _, err := exec.SetLinkedPod(ctx, ns, uid, "game", i%3, -1); err != nil {
			t.Fatal(err)
		}
		if _, err := exec.GetLinkedPod(ctx, ns, uid, "game"); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if _, err := exec.GetLinkedPod(ctx, ns, "", "game"); !errors.Is(err, otelexec.ErrInvalidArgument) {
			t.Fatalf("empty uid: %v", err)
		}
	}

	r, err := collector.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Service.Name != "e2e" || r.Service.Version != "0.0.1" {
		t.Fatalf("service %+v", r.Service)
	}
	set, get := r.Operation(contract.OpSetLinkedPod.String()), r.Operation(contract.OpGetLinkedPod.String())
	if set == nil || get == nil {
		t.Fatalf("operations %+v", r.Operations)
	}
	if set.Count != 50 || set.Errors != 0 || set.P50Seconds <= 0 || set.MaxSeconds < set.P99Seconds {
		t.Fatalf("SetLinkedPod %+v", set)
	}
	if get.Count != 53 || get.Errors != 3 || get.ErrorsByType[contract.ErrorInvalidArgument.String()] != 3 {
		t.Fatalf("GetLinkedPod %+v", get)
	}
	// The command pool and go-redis's pipeline pool.
	if r.Redis.Pool.Max != 4+2 || r.Redis.Pool.InUse+r.Redis.Pool.Idle == 0 {
		t.Fatalf("pool %+v, want max 6 and open connections", r.Redis.Pool)
	}
	if sc := r.Redis.ScriptCache; sc.Hits == 0 {
		t.Fatalf("script cache %+v: SetLinkedPod runs a script", sc)
	}
	if up := r.Redis.ConnectionUp; up == nil || !*up {
		t.Fatalf("connection up %v", up)
	}
	if r.Redis.Ping == nil || r.Redis.Ping.Count == 0 || r.Redis.Ping.P50Seconds <= 0 {
		t.Fatalf("ping %+v", r.Redis.Ping)
	}
	// Bad input is the caller's: an info, not an error-rate warning.
	for _, s := range r.Suggestions {
		if s.Severity != report.SeverityInfo {
			t.Errorf("unexpected %s suggestion: %s", s.Severity, s.Message)
		}
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), contract.OpSetLinkedPod.String()) {
		t.Fatalf("text report:\n%s", text.String())
	}
	t.Logf("\n%s", text.String())
}
