package sfkratos

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kratos/kratos/v3/errors"
	"github.com/go-kratos/kratos/v3/middleware"
	"github.com/go-kratos/kratos/v3/registry"
	kgrpc "github.com/go-kratos/kratos/v3/transport/grpc"
	khttp "github.com/go-kratos/kratos/v3/transport/http"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
)

// pod is one instance of the routed service: an HTTP and a gRPC server on
// loopback that count the calls they serve.
type pod struct {
	id       int
	hits     atomic.Int64
	instance *registry.ServiceInstance
}

func startPod(t *testing.T, id int) *pod {
	t.Helper()
	p := &pod{id: id}
	count := func(next middleware.Handler) middleware.Handler {
		return func(ctx context.Context, req any) (any, error) {
			p.hits.Add(1)
			return next(ctx, req)
		}
	}
	hs := khttp.NewServer(khttp.Address("127.0.0.1:0"))
	hs.HandleFunc("/who", func(w http.ResponseWriter, _ *http.Request) {
		p.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"pod":` + strconv.Itoa(id) + `}`))
	})
	gs := kgrpc.NewServer(kgrpc.Address("127.0.0.1:0"), kgrpc.Middleware(count))
	gs.RegisterService(&whoDesc, p)
	hu, err := hs.Endpoint()
	if err != nil {
		t.Fatal(err)
	}
	gu, err := gs.Endpoint()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []interface {
		Start(context.Context) error
		Stop(context.Context) error
	}{hs, gs} {
		go func() { _ = s.Start(context.Background()) }()
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
	}
	p.instance = &registry.ServiceInstance{
		ID: "pod-" + strconv.Itoa(id), Name: "game",
		Endpoints: []string{hu.String(), gu.String()},
		Metadata:  map[string]string{PodMetadataKey: strconv.Itoa(id)},
	}
	return p
}

// whoDesc is a gRPC service of one method, Who, that answers the pod's ID.
const whoMethod = "/sfotel.test.Pod/Who"

var whoDesc = grpc.ServiceDesc{
	ServiceName: "sfotel.test.Pod",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Who",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(context.Context, any) (any, error) { return wrapperspb.Int64(int64(srv.(*pod).id)), nil }
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: whoMethod}, h)
		},
	}},
}

// staticDiscovery discovers a fixed set of instances.
type staticDiscovery []*registry.ServiceInstance

func (d staticDiscovery) GetService(context.Context, string) ([]*registry.ServiceInstance, error) {
	return d, nil
}

func (d staticDiscovery) Watch(ctx context.Context, _ string) (registry.Watcher, error) {
	return &staticWatcher{d: d, ctx: ctx, stop: make(chan struct{})}, nil
}

type staticWatcher struct {
	d    staticDiscovery
	ctx  context.Context
	sent bool
	stop chan struct{}
	once sync.Once
}

func (w *staticWatcher) Next() ([]*registry.ServiceInstance, error) {
	if !w.sent {
		w.sent = true
		return w.d, nil
	}
	select {
	case <-w.ctx.Done():
		return nil, w.ctx.Err()
	case <-w.stop:
		return nil, context.Canceled
	}
}

func (w *staticWatcher) Stop() error {
	w.once.Do(func() { close(w.stop) })
	return nil
}

// TestRouterKeepsAUserOnTheirPod: through real Kratos HTTP and gRPC
// clients, every call for one user lands on one instance; when that
// instance stops heartbeating the user is moved to the other one, and a
// user linked to a pod no instance is discovered for gets an error, not
// another pod.
func TestRouterKeepsAUserOnTheirPod(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exec, err := otelexec.New(redistest.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	ns := redistest.Namespace(t)
	pods := []*pod{startPod(t, 1), startPod(t, 2)}
	beat := func(p *pod, at time.Time) {
		t.Helper()
		if err := exec.SetServiceState(ctx, ns, "game", p.id, otelexec.FormatPodState(0, at)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pods {
		beat(p, time.Now())
	}
	r, err := NewRouter(exec, ns, "game", 30*time.Second, otelexec.PersistForever)
	if err != nil {
		t.Fatal(err)
	}
	d := staticDiscovery{pods[0].instance, pods[1].instance}
	hc, err := khttp.NewClient(ctx, khttp.WithEndpoint("discovery:///game"), khttp.WithDiscovery(d),
		khttp.WithNodeFilter(r.NodeFilter()), khttp.WithBlock())
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	conn, err := kgrpc.NewClient(ctx, kgrpc.WithEndpoint("discovery:///game"), kgrpc.WithDiscovery(d),
		kgrpc.WithNodeFilter(r.NodeFilter()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// call makes one HTTP and one gRPC call for uid and returns the pod
	// that served them.
	call := func(uid string) (int, error) {
		uctx := WithUser(ctx, uid)
		var out struct{ Pod int }
		if err := hc.Invoke(uctx, http.MethodGet, "/who", nil, &out); err != nil {
			return -1, err
		}
		var g wrapperspb.Int64Value
		if err := conn.Invoke(uctx, whoMethod, wrapperspb.String(uid), &g); err != nil {
			return -1, err
		}
		if int(g.Value) != out.Pod {
			t.Fatalf("%s's HTTP call went to pod %d, the gRPC call to %d", uid, out.Pod, g.Value)
		}
		return out.Pod, nil
	}
	hits := func() [2]int64 { return [2]int64{pods[0].hits.Load(), pods[1].hits.Load()} }

	// gRPC connects to the instances in the background, and its balancer
	// offers the router only the instances it is connected to: wait until
	// both answer, or a user linked to the other one gets no_available_node.
	for _, p := range pods {
		uid := fmt.Sprintf("probe-%d", p.id)
		if _, err := exec.SetLinkedPod(ctx, ns, uid, "game", p.id, otelexec.PersistForever); err != nil {
			t.Fatal(err)
		}
		for {
			if got, err := call(uid); err == nil && got == p.id {
				break
			} else if ctx.Err() != nil {
				t.Fatalf("pod %d never answered %s's calls: %v", p.id, uid, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	first, err := call("alice")
	if err != nil {
		t.Fatal(err)
	}
	before := hits()
	for range 20 {
		if got, err := call("alice"); err != nil || got != first {
			t.Fatalf("alice's call landed on pod %d (%v), her first on %d", got, err, first)
		}
	}
	after := hits()
	if on := after[first-1] - before[first-1]; on != 40 || after[2-first] != before[2-first] {
		t.Fatalf("40 calls: %d on alice's pod %d, the other went from %d to %d", on, first, before[2-first], after[2-first])
	}

	// Her pod stops heartbeating: her next call moves to the other one.
	beat(pods[first-1], time.Now().Add(-time.Minute))
	other := 3 - first
	for range 5 {
		if got, err := call("alice"); err != nil || got != other {
			t.Fatalf("after pod %d stopped heartbeating alice's call went to %d (%v), want %d", first, got, err, other)
		}
	}

	// A pod that heartbeats but is not discovered: an error, not another pod.
	beat(&pod{id: 7}, time.Now())
	if _, err := exec.SetLinkedPod(ctx, ns, "bob", "game", 7, otelexec.PersistForever); err != nil {
		t.Fatal(err)
	}
	if _, err := call("bob"); !errors.IsServiceUnavailable(err) {
		t.Fatalf("bob's pod is not discovered: %v, want 503 no_available_node", err)
	}
	if err := conn.Invoke(WithUser(ctx, "bob"), whoMethod, wrapperspb.String("bob"), new(wrapperspb.Int64Value)); !errors.IsServiceUnavailable(err) {
		t.Fatalf("bob's gRPC call: %v, want Unavailable", err)
	}

	// A call without a user is the balancer's.
	var out struct{ Pod int }
	if err := hc.Invoke(ctx, http.MethodGet, "/who", nil, &out); err != nil || out.Pod < 1 {
		t.Fatalf("a call without a user: pod %d, %v", out.Pod, err)
	}
}

func TestNewRouterRejects(t *testing.T) {
	exec, err := otelexec.New(redistest.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		exec    *otelexec.Executor
		alive   time.Duration
		persist int
		field   string
	}{{nil, time.Second, -1, "exec"}, {exec, 0, -1, "aliveWithin"}, {exec, time.Second, 0, "persistSeconds"}} {
		if _, err := NewRouter(c.exec, "ns", "game", c.alive, c.persist); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("NewRouter with a bad %s: %v", c.field, err)
		}
	}
}
