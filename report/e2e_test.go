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

	snap, err := collector.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := snap.Report()
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

// TestTwoClientsOneDown instruments two Redis clients on one MeterProvider
// and stops the server of one: the report shows that client down and its
// own pools, the other up, and the summary down.
func TestTwoClientsOneDown(t *testing.T) {
	collector, err := report.NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(collector.Reader()))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	servers := map[string]*redistest.Server{"sessions": redistest.StartServer(t), "matches": redistest.StartServer(t)}
	for name, srv := range servers {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 3, MaxRetries: -1})
		t.Cleanup(func() { _ = rdb.Close() })
		inst, err := redisinstr.Instrument(rdb, redisinstr.WithMeterProvider(mp), redisinstr.WithPoolName(name),
			redisinstr.WithProbeInterval(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = inst.Close() })
		if err := rdb.Ping(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	servers["matches"].Kill()

	var r *report.Report
	deadline := time.Now().Add(10 * time.Second)
	for {
		snap, err := collector.Snapshot(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		r = snap.Report()
		if up := r.Redis.ConnectionUp; up != nil && !*up {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the summary never went down: %+v", r.Redis.Clients)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(r.Redis.Clients) != 2 {
		t.Fatalf("clients %+v, want two", r.Redis.Clients)
	}
	for _, c := range r.Redis.Clients {
		wantUp := c.Name == "sessions"
		if c.ConnectionUp == nil || *c.ConnectionUp != wantUp {
			t.Fatalf("client %s: connection up %v, want %v", c.Name, c.ConnectionUp, wantUp)
		}
		if len(c.Pools) != 2 || c.Pools[0].Name != c.Name || c.Pools[1].Name != c.Name+"/pipeline" || c.Pool.Max != 3+c.Pools[1].Max {
			t.Fatalf("client %s: pools %+v, want its own two", c.Name, c.Pools)
		}
	}
	var down []report.Suggestion
	for _, s := range r.Suggestions {
		if s.ID == report.RuleConnectionDown {
			down = append(down, s)
		}
	}
	if len(down) != 1 || !strings.Contains(down[0].Message, "client matches is down") {
		t.Fatalf("connection_down findings %+v, want one naming matches", down)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "1 of 2 clients down") {
		t.Fatalf("text report:\n%s", text.String())
	}
}
