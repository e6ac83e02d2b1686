package reliability

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/otelexec"
)

// answerHook answers every command without I/O, with a reply of the shape the
// executor expects: a link or pod ID "1" for strings, 1 for scripts, one
// field for hashes. It lets a million operations run through the real
// executor and the real SDK in seconds.
type answerHook struct{}

func (answerHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (answerHook) ProcessHook(redis.ProcessHook) redis.ProcessHook {
	return func(_ context.Context, cmd redis.Cmder) error { answer(cmd); return nil }
}

func (answerHook) ProcessPipelineHook(redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(_ context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			answer(cmd)
		}
		return nil
	}
}

var podState = otelexec.FormatPodState(1, time.Now().Add(time.Hour))

func answer(cmd redis.Cmder) {
	if w, ok := cmd.(interface{ Unwrap() redis.Cmder }); ok { // the executor's commands are wrapped
		cmd = w.Unwrap()
	}
	switch c := cmd.(type) {
	case *redis.StringCmd:
		c.SetVal("1")
	case *redis.Cmd:
		c.SetVal(int64(1))
	case *redis.MapStringStringCmd: // HGETALL of a user's links or of pod states
		if key, _ := c.Args()[1].(string); strings.Contains(key, ":lk:") {
			c.SetVal(map[string]string{"svc-1": "1"})
		} else {
			c.SetVal(map[string]string{"1": podState})
		}
	case *redis.IntCmd:
		c.SetVal(1)
	case *redis.StatusCmd:
		c.SetVal("OK")
	}
}

// cardinalityLoad runs n operations over n distinct uids and services
// services, from workers goroutines: the link reads and writes, batches,
// state reads, ComputeLinkedPod, and one rejected call in 1000.
func cardinalityLoad(tb testing.TB, e *otelexec.Executor, namespaces []string, services, n, workers int) {
	tb.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				uid := "user-" + strconv.Itoa(i)
				svc := "svc-" + strconv.Itoa(i%services)
				ns := namespaces[(i/services)%len(namespaces)] // every (namespace, service) pair occurs
				var err error
				switch i % 8 {
				case 0:
					_, err = e.GetLinkedPod(ctx, ns, uid, svc)
				case 1:
					_, err = e.SetLinkedPod(ctx, ns, uid, svc, i%100, -1)
				case 2:
					_, err = e.SetLinkedPodIfAbsent(ctx, ns, uid, svc, i%100, 60)
				case 3:
					_, err = e.GetLinkedPodIfPersist(ctx, ns, uid, svc)
				case 4:
					_, err = e.RemoveLinkedPod(ctx, ns, uid, svc, 30)
				case 5:
					_, err = e.BatchGetLinkedPod(ctx, ns, []string{uid, uid + "-b"}, svc)
				case 6:
					_, err = e.ComputeLinkedPod(ctx, ns, uid, svc, time.Minute, -1)
				case 7:
					if i%1000 == 7 {
						// A rejected call: counted with error_type=invalid_argument.
						if _, err := e.GetLinkedPod(ctx, ns, uid+"{", svc); err == nil {
							errs <- context.Canceled
							return
						}
						continue
					}
					_, err = e.GetLinkService(ctx, ns, uid)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatalf("operation failed under the answering hook: %v", err)
	}
}

// TestCardinalityBounded sends 1M distinct uids over 1k services through the
// executor with default options: after a warm-up that exercises every
// operation and outcome, the number of metric series does not change, and no
// series carries a uid, namespace or service.
func TestCardinalityBounded(t *testing.T) {
	const uids, services = 1_000_000, 1000
	n := uids
	if raceEnabled || testing.Short() {
		// About 30 µs per operation under -race on this machine: 1M would
		// take a third of the package's budget. The full million runs without
		// -race (go test -run TestCardinality ./internal/reliability/).
		n = 100_000
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { _ = rdb.Close() })
	rdb.AddHook(answerHook{})
	tel := newTelemetry(t)
	e := newExecutor(t, rdb, otelexec.WithMeterProvider(tel.mp))
	namespaces := []string{"tenant-a", "tenant-b"}

	cardinalityLoad(t, e, namespaces, services, 20_000, 1)
	warm := tel.collect(t)
	warmSeries := seriesCount(warm)
	start := time.Now()
	cardinalityLoad(t, e, namespaces, services, n, 4)
	after := tel.collect(t)
	t.Logf("%d operations over %d distinct uids and %d services in %v; series: %d after warm-up, %d after",
		n, n, services, time.Since(start).Round(time.Millisecond), warmSeries, seriesCount(after))
	if got := seriesCount(after); got != warmSeries {
		t.Errorf("series count grew from %d to %d:\n%v", warmSeries, got, seriesNames(after))
	}
	if got := sumWhere(after, contract.MetricOperations); got < float64(n) {
		t.Errorf("operations counted %v, want >= %d: the load did not go through the executor", got, n)
	}
	for _, p := range points(after) {
		for _, kv := range p.attrs.ToSlice() {
			switch kv.Key {
			case contract.AttrNamespace, contract.AttrService:
				t.Errorf("series %s has %s without WithServiceAttributes", p.metric, kv.Key)
			}
		}
	}
}

// TestCardinalityWithServiceAttributes sends 1.5k services in each of 2
// namespaces (3k pairs) through an executor with WithServiceAttributes, on
// a MeterProvider with the SDK's default cardinality limit (2000 series
// per instrument). The per-service instruments stay within the limit and
// fold the rest into the SDK's overflow series, where it is still counted;
// the instruments without service attributes carry no name and no
// overflow, and count every call.
func TestCardinalityWithServiceAttributes(t *testing.T) {
	const services, limit = 1500, 2000
	n := 200_000
	if raceEnabled || testing.Short() {
		n = 15_000 // still 5 calls per (namespace, service) pair
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = rdb.Close() })
	rdb.AddHook(answerHook{})
	tel := newTelemetry(t)
	e := newExecutor(t, rdb, otelexec.WithMeterProvider(tel.mp), otelexec.WithServiceAttributes(true))
	cardinalityLoad(t, e, []string{"tenant-a", "tenant-b"}, services, n, 4)
	rm := tel.collect(t)
	series := map[string]int{}
	pairs := map[[2]string]bool{}
	var overflowed float64
	for _, p := range points(rm) {
		series[p.metric]++
		_, overflow := p.attrs.Value("otel.metric.overflow")
		switch p.metric {
		case contract.MetricServiceOperations:
			ns, _ := p.attrs.Value(attribute.Key(contract.AttrNamespace))
			svc, _ := p.attrs.Value(attribute.Key(contract.AttrService))
			pairs[[2]string{ns.Emit(), svc.Emit()}] = true
			if overflow {
				overflowed += p.value
			}
		case contract.MetricServiceOperationDuration, contract.MetricPods, contract.MetricPodHeartbeatAge, contract.MetricPodLoadSpread:
		default:
			if overflow {
				t.Errorf("%s, which carries no service, has an overflow series", p.metric)
			}
		}
	}
	t.Logf("%d (namespace, service) pairs sent, %d label pairs recorded, %v calls in the overflow series, %d series in all",
		2*services, len(pairs), overflowed, seriesCount(rm))
	for name, k := range series {
		if k > limit {
			t.Errorf("%s has %d series, over the limit %d", name, k, limit)
		}
	}
	if overflowed == 0 {
		t.Error("3k pairs under a limit of 2000: nothing in the overflow series")
	}
	total := sumWhere(rm, contract.MetricOperations)
	if got := sumWhere(rm, contract.MetricServiceOperations); got != total || total != float64(n) {
		t.Errorf("operations counted %v, by service %v (overflow included), want both %d", total, got, n)
	}
}
