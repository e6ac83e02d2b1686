package otelexec

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/internal/redistest"
)

// The routing path: what a stateful router does per request, against the
// real Redis with 50 goroutines. Each request reads the service's pod states
// (to check the pod it routes to is alive), then finds or makes the user's
// link with ComputeLinkedPod; every user makes routingRequestsPerUser
// requests, so the first one links and the rest find the link. Every
// routingFanOutEvery-th request also looks up the pods of the last
// routingFanOut users (a broadcast to a room). Pods heartbeat in the
// background through another client, so the pod states keep changing.
//
// impl=naive is the baseline: uninstrumented, one HGETALL per state read,
// one EVAL with the full script text per link, one round trip per uid of
// the fan-out. It reads a link as the executor does, the user's link hash
// field and then the link key (a field alone is a persistent link written by
// the Java executor), so the comparison holds the semantics equal and the
// extra read is paid on both sides; BenchmarkLinkRead measures that read. impl=sfotel is the executor with metrics and 100% tracing (batch
// processor, discarding exporter) and WithStateCache(routingStateTTL);
// impl=sfotel-nocache the same without the state cache, to show what the
// cache buys and what the instrumentation costs.
const (
	routingGoroutines      = 50
	routingPods            = 16
	routingRequestsPerUser = 8
	routingFanOut          = 16
	routingFanOutEvery     = 16
	routingAliveWithin     = time.Hour
	routingPersist         = 600 // temporary links; they expire after the run
	routingStateTTL        = time.Second
	routingService         = "game"
)

// router is the part of the executor the routing path uses.
type router interface {
	podStates(ctx context.Context, namespace, serviceName string) (map[int]string, error)
	computeLinkedPod(ctx context.Context, namespace, uid, serviceName string) (int, error)
	batchGetLinkedPod(ctx context.Context, namespace string, uids []string, serviceName string) (map[int][]string, error)
}

// naiveRouter is the baseline executor, written the plain way.
type naiveRouter struct {
	rdb    *redis.Client
	script string // full text of set_linked_pod_if_absent.lua, sent with every EVAL
}

func (n naiveRouter) podStates(ctx context.Context, namespace, serviceName string) (map[int]string, error) {
	raw, err := n.rdb.HGetAll(ctx, stateKey(namespace, serviceName)).Result()
	if err != nil {
		return nil, err
	}
	states, _ := parseStateHash(raw)
	return states, nil
}

// link reads a user's link the plain way: HGET of the hash field and GET of
// the link key in one pipeline, the field first.
func (n naiveRouter) link(ctx context.Context, namespace, uid, serviceName string) (int, error) {
	key := linkKey(namespace, uid, serviceName)
	p := n.rdb.Pipeline()
	field := p.HGet(ctx, key[:len(key)-len(serviceName)], serviceName)
	link := p.Get(ctx, key)
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return -1, err
	}
	for _, cmd := range []*redis.StringCmd{field, link} {
		if v, err := cmd.Result(); err == nil {
			return strconv.Atoi(v)
		}
	}
	return -1, nil
}

func (n naiveRouter) computeLinkedPod(ctx context.Context, namespace, uid, serviceName string) (int, error) {
	if pod, err := n.link(ctx, namespace, uid, serviceName); err != nil || pod >= 0 {
		return pod, err
	}
	states, err := n.podStates(ctx, namespace, serviceName)
	if err != nil {
		return -1, err
	}
	chosen, _ := choosePod(states, time.Now(), routingAliveWithin)
	if chosen < 0 {
		return -1, nil
	}
	r, err := n.rdb.Eval(ctx, n.script, linkKeys(namespace, uid, serviceName),
		serviceName, strconv.Itoa(chosen), strconv.Itoa(routingPersist)).Result()
	if err != nil {
		return -1, err
	}
	pod, _, err := parseLinkReply(r, nil)
	return pod, err
}

func (n naiveRouter) batchGetLinkedPod(ctx context.Context, namespace string, uids []string, serviceName string) (map[int][]string, error) {
	pods := make(map[int][]string)
	for _, uid := range uids {
		pod, err := n.link(ctx, namespace, uid, serviceName)
		if err != nil {
			return nil, err
		}
		if pod >= 0 {
			pods[pod] = append(pods[pod], uid)
		}
	}
	return pods, nil
}

// sfotelRouter is the executor's public API on the same path.
type sfotelRouter struct{ e *Executor }

func (s sfotelRouter) podStates(ctx context.Context, namespace, serviceName string) (map[int]string, error) {
	return s.e.GetServiceState(ctx, namespace, serviceName)
}

func (s sfotelRouter) computeLinkedPod(ctx context.Context, namespace, uid, serviceName string) (int, error) {
	return s.e.ComputeLinkedPod(ctx, namespace, uid, serviceName, routingAliveWithin, routingPersist)
}

func (s sfotelRouter) batchGetLinkedPod(ctx context.Context, namespace string, uids []string, serviceName string) (map[int][]string, error) {
	return s.e.BatchGetLinkedPod(ctx, namespace, uids, serviceName)
}

// roundTrips counts the commands and pipelines a client sends.
type roundTrips struct{ n atomic.Int64 }

func (*roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// parallelism50 is the SetParallelism argument that runs 50 goroutines.
func parallelism50() int {
	return (routingGoroutines + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
}

func BenchmarkRoutingPath(b *testing.B) {
	for _, impl := range []string{"naive", "sfotel", "sfotel-nocache"} {
		b.Run("impl="+impl, func(b *testing.B) {
			rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(b)})
			b.Cleanup(func() { _ = rdb.Close() })
			trips := &roundTrips{}
			rdb.AddHook(trips)
			ns := redistest.Namespace(b)
			var r router
			switch impl {
			case "naive":
				r = naiveRouter{rdb: rdb, script: loadScripts().setIfAbsent.src}
			default:
				opts := routingProviders(b)
				if impl == "sfotel" {
					opts = append(opts, WithStateCache(routingStateTTL))
				}
				e, err := New(rdb, opts...)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = e.Close() })
				r = sfotelRouter{e}
			}
			stop := routingHeartbeats(b, ns)
			defer stop()

			var gid atomic.Int64
			b.SetParallelism(parallelism50())
			b.ReportAllocs()
			trips.n.Store(0)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				prefix := "u" + strconv.FormatInt(gid.Add(1), 10) + "-"
				room := make([]string, 0, routingFanOut)
				for k := 0; pb.Next(); k++ {
					uid := prefix + strconv.Itoa(k/routingRequestsPerUser)
					if err := routingRequest(ctx, r, ns, uid); err != nil {
						b.Error(err)
						return
					}
					if k%routingRequestsPerUser == 0 {
						if len(room) == routingFanOut {
							room = room[1:]
						}
						room = append(room, uid)
					}
					if k%routingFanOutEvery == routingFanOutEvery-1 {
						pods, err := r.batchGetLinkedPod(ctx, ns, room, routingService)
						if err != nil || len(pods) == 0 {
							b.Errorf("fan-out over %d users: %v, %v", len(room), pods, err)
							return
						}
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(trips.n.Load())/float64(b.N), "roundtrips/op")
		})
	}
}

// routingRequest is one request: read the pod states, find or make the link,
// and check that the pod is one of the service's.
func routingRequest(ctx context.Context, r router, ns, uid string) error {
	states, err := r.podStates(ctx, ns, routingService)
	if err != nil {
		return err
	}
	pod, err := r.computeLinkedPod(ctx, ns, uid, routingService)
	if err != nil {
		return err
	}
	if _, ok := states[pod]; !ok {
		return errors.New("routed to pod " + strconv.Itoa(pod) + ", which has no state")
	}
	return nil
}

// routingProviders are the options of the instrumented variants: the goal
// benchmarks' providers, every span sampled.
func routingProviders(b *testing.B) []Option {
	mp, tp := goalProviders(b)
	return []Option{WithMeterProvider(mp), WithTracerProvider(tp)}
}

// routingHeartbeats writes the pods' states, then keeps rewriting one pod's
// state every 10 ms from its own client, as pods reporting their load would.
func routingHeartbeats(b *testing.B, ns string) (stop func()) {
	c := redis.NewClient(&redis.Options{Addr: redistest.Addr(b)})
	ctx := context.Background()
	key := stateKey(ns, routingService)
	for pod := range routingPods {
		if err := c.HSet(ctx, key, strconv.Itoa(pod), FormatPodState(pod%5, time.Now())).Err(); err != nil {
			b.Fatal(err)
		}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-t.C:
				pod := i % routingPods
				_ = c.HSet(ctx, key, strconv.Itoa(pod), FormatPodState((pod+i)%5, time.Now())).Err()
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		_ = c.Close()
	}
}
