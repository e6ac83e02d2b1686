package reliability

import (
	"bytes"
	"context"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/otelexec"
)

// telemetry is an SDK MeterProvider on a ManualReader and an SDK
// TracerProvider on an in-memory span recorder, both shut down with the test.
type telemetry struct {
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
}

func newTelemetry(tb testing.TB) *telemetry {
	tb.Helper()
	tel := &telemetry{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tel.mp.Shutdown(ctx)
		_ = tel.tp.Shutdown(ctx)
	})
	return tel
}

// options returns the executor options that wire both providers.
func (tel *telemetry) options(extra ...otelexec.Option) []otelexec.Option {
	return append([]otelexec.Option{
		otelexec.WithMeterProvider(tel.mp),
		otelexec.WithTracerProvider(tel.tp),
	}, extra...)
}

func (tel *telemetry) collect(tb testing.TB) metricdata.ResourceMetrics {
	tb.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		tb.Fatalf("collect metrics: %v", err)
	}
	return rm
}

// point is one metric data point reduced to what the tests compare.
type point struct {
	metric string
	attrs  attribute.Set
	value  float64 // sum or gauge value; histogram count
	sum    float64 // histogram sum
}

// points flattens every data point of every metric.
func points(rm metricdata.ResourceMetrics) []point {
	var out []point
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					out = append(out, point{m.Name, dp.Attributes, float64(dp.Value), 0})
				}
			case metricdata.Sum[float64]:
				for _, dp := range d.DataPoints {
					out = append(out, point{m.Name, dp.Attributes, dp.Value, 0})
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					out = append(out, point{m.Name, dp.Attributes, float64(dp.Value), 0})
				}
			case metricdata.Gauge[float64]:
				for _, dp := range d.DataPoints {
					out = append(out, point{m.Name, dp.Attributes, dp.Value, 0})
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					out = append(out, point{m.Name, dp.Attributes, float64(dp.Count), dp.Sum})
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					out = append(out, point{m.Name, dp.Attributes, float64(dp.Count), float64(dp.Sum)})
				}
			case metricdata.ExponentialHistogram[float64]:
				for _, dp := range d.DataPoints {
					out = append(out, point{m.Name, dp.Attributes, float64(dp.Count), dp.Sum})
				}
			}
		}
	}
	return out
}

// sumWhere adds the values of the points of metric whose attributes include
// every key=value of match.
func sumWhere(rm metricdata.ResourceMetrics, metric string, match ...attribute.KeyValue) float64 {
	var total float64
	for _, p := range points(rm) {
		if p.metric == metric && hasAll(p.attrs, match) {
			total += p.value
		}
	}
	return total
}

func hasAll(set attribute.Set, match []attribute.KeyValue) bool {
	for _, kv := range match {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// byAttr groups the values of metric by the value of attribute key.
func byAttr(rm metricdata.ResourceMetrics, metric, key string) map[string]float64 {
	out := map[string]float64{}
	for _, p := range points(rm) {
		if p.metric != metric {
			continue
		}
		v, _ := p.attrs.Value(attribute.Key(key))
		out[v.Emit()] += p.value
	}
	return out
}

// seriesCount is the number of distinct (metric, attribute set) series.
func seriesCount(rm metricdata.ResourceMetrics) int { return len(points(rm)) }

// seriesNames lists the series, for failure messages.
func seriesNames(rm metricdata.ResourceMetrics) []string {
	var out []string
	for _, p := range points(rm) {
		out = append(out, p.metric+"{"+p.attrs.Encoded(attribute.DefaultEncoder())+"}")
	}
	sort.Strings(out)
	return out
}

func opAttr(op string) attribute.KeyValue { return attribute.String(contract.AttrOperation, op) }

// newExecutor builds an executor on rdb or fails the test.
func newExecutor(tb testing.TB, rdb redis.UniversalClient, opts ...otelexec.Option) *otelexec.Executor {
	tb.Helper()
	e, err := otelexec.New(rdb, opts...)
	if err != nil {
		tb.Fatalf("otelexec.New: %v", err)
	}
	return e
}

// startExecutor is newExecutor plus LoadScripts, as an application starts
// one: the scripts are on the server before the first call.
func startExecutor(tb testing.TB, rdb redis.UniversalClient, opts ...otelexec.Option) *otelexec.Executor {
	tb.Helper()
	e := newExecutor(tb, rdb, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.LoadScripts(ctx); err != nil {
		tb.Fatalf("LoadScripts: %v", err)
	}
	return e
}

// serverClient is a client of a test-owned server that honours context
// deadlines on reads, with the given pool size.
func serverClient(tb testing.TB, addr string, pool int) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: pool, ContextTimeoutEnabled: true})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// settleGoroutines waits until at most want goroutines run, and fails with
// every goroutine's stack if that does not happen within the timeout.
func settleGoroutines(tb testing.TB, want int, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	n := runtime.NumGoroutine()
	for n > want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		runtime.GC()
		n = runtime.NumGoroutine()
	}
	if n > want {
		var buf bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
		tb.Errorf("goroutine leak: %d goroutines after settling %v, want <= %d\n%s", n, timeout, want, buf.String())
	}
}

// withTimeout runs fn with a context that expires after d.
func withTimeout(d time.Duration, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return fn(ctx)
}

// containsAny reports the first needle found in hay.
func containsAny(hay string, needles []string) (string, bool) {
	for _, n := range needles {
		if n != "" && strings.Contains(hay, n) {
			return n, true
		}
	}
	return "", false
}

// Raw key layout (docs/design.md), used by verifiers that read Redis directly.
func linkHashKey(ns, uid string) string  { return "sf:{" + ns + ":lk:" + uid + "}" }
func linkKey(ns, uid, svc string) string { return linkHashKey(ns, uid) + svc }
func stateKey(ns, svc string) string     { return "sf:{" + ns + ":state:" + svc + "}" }
func workloadKey(ns, svc string) string  { return "sf:{" + ns + ":workload:" + svc + "}" }

// checkLinks reads every uid → pod of want back through BatchGetLinkedPod and
// checks with a plain pipeline that each is in its user's hash (persistent).
// It returns how many links are missing or wrong, reporting the first few.
func checkLinks(ctx context.Context, tb testing.TB, exec *otelexec.Executor, rdb redis.UniversalClient, ns, svc string, want map[string]int) int {
	tb.Helper()
	uids := make([]string, 0, len(want))
	for uid := range want {
		uids = append(uids, uid)
	}
	sort.Strings(uids)
	bad := 0
	report := func(format string, args ...any) {
		bad++
		if bad <= 5 {
			tb.Errorf(format, args...)
		}
	}
	const chunk = 500
	for lo := 0; lo < len(uids); lo += chunk {
		part := uids[lo:min(lo+chunk, len(uids))]
		byPod, err := exec.BatchGetLinkedPod(ctx, ns, part, svc)
		if err != nil {
			tb.Fatalf("BatchGetLinkedPod: %v", err)
		}
		got := map[string]int{}
		for pod, us := range byPod {
			for _, u := range us {
				got[u] = pod
			}
		}
		pipe := rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(part))
		for i, uid := range part {
			cmds[i] = pipe.HGet(ctx, linkHashKey(ns, uid), svc)
		}
		_, _ = pipe.Exec(ctx)
		for i, uid := range part {
			if p, ok := got[uid]; !ok || p != want[uid] {
				report("link %q → %d: BatchGetLinkedPod has %d (present %v)", uid, want[uid], p, ok)
				continue
			}
			if v, err := cmds[i].Result(); err != nil || v != strconv.Itoa(want[uid]) {
				report("link %q → %d: user hash field %q = %q, %v", uid, want[uid], svc, v, err)
			}
		}
	}
	return bad
}
