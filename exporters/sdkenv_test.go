package exporters

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/statefulroute/sfotel/internal/otlptest"
)

// TestSetupSDKVariablesInvalid: every OTEL_BSP_* value out of range is a warning naming the variable and the default
// applies; Setup starts (a negative queue or batch size used to panic the
// SDK) and spans and metrics still reach a real collector.
func TestSetupSDKVariablesInvalid(t *testing.T) {
	r := otlptest.Start(t)
	for name, rng := range sdkSettings {
		for _, v := range []string{"-1", "0", "ten", "1.5", "99999999999999999999", strconv.Itoa(rng.max + 1)} {
			t.Run(name+"="+v, func(t *testing.T) {
				clearOTelEnv(t)
				t.Setenv(name, v)
				warnings := recordHandled(t)
				if got := sdkEnv(name); got != rng.def {
					t.Errorf("value in force %d, want the default %d", got, rng.def)
				}
				if w := warnings.about(name); len(w) != 1 {
					t.Errorf("warnings %q, want one naming %s", w, name)
				}
				before := len(r.Spans())
				tel := setup(t, WithEndpoint(r.HTTPEndpoint()))
				parentAndChild(t, tel)
				if err := tel.ForceFlush(ctxTimeout(t, 10*time.Second)); err != nil {
					t.Fatal(err)
				}
				if n := len(r.Spans()) - before; n != 2 {
					t.Errorf("%d spans exported, want 2", n)
				}
			})
		}
	}
}

// TestBatchSpanOptions: valid values are passed on as they are; a batch
// larger than the queue is invalid, as the specification says, and becomes
// the default batch or the queue size if smaller.
func TestBatchSpanOptions(t *testing.T) {
	apply := func() sdktrace.BatchSpanProcessorOptions {
		var o sdktrace.BatchSpanProcessorOptions
		for _, f := range batchSpanOptions() {
			f(&o)
		}
		return o
	}
	clearOTelEnv(t)
	want := sdktrace.BatchSpanProcessorOptions{BatchTimeout: 5 * time.Second, ExportTimeout: 30 * time.Second, MaxQueueSize: 2048, MaxExportBatchSize: 512}
	if o := apply(); o != want {
		t.Errorf("defaults %+v, want %+v", o, want)
	}
	t.Setenv(envBSPScheduleDelay, "250")
	t.Setenv(envBSPExportTimeout, " 1000 ")
	t.Setenv(envBSPMaxQueueSize, "100")
	t.Setenv(envBSPMaxExportBatchSize, "100")
	want = sdktrace.BatchSpanProcessorOptions{BatchTimeout: 250 * time.Millisecond, ExportTimeout: time.Second, MaxQueueSize: 100, MaxExportBatchSize: 100}
	if o := apply(); o != want {
		t.Errorf("valid values %+v, want %+v", o, want)
	}
	for _, c := range []struct{ queue, batch string }{{"100", "101"}, {"1000", "2000"}} {
		t.Setenv(envBSPMaxQueueSize, c.queue)
		t.Setenv(envBSPMaxExportBatchSize, c.batch)
		warnings := recordHandled(t)
		queue, _ := strconv.Atoi(c.queue)
		if o := apply(); o.MaxQueueSize != queue || o.MaxExportBatchSize != min(512, queue) {
			t.Errorf("queue %s, batch %s: %+v, want batch %d", c.queue, c.batch, o, min(512, queue))
		}
		if w := warnings.about(envBSPMaxExportBatchSize); len(w) != 1 {
			t.Errorf("queue %s, batch %s: warnings %q", c.queue, c.batch, w)
		}
	}
}

// TestSetupMetricIntervalVariable: a valid OTEL_METRIC_EXPORT_INTERVAL is
// passed on: metrics arrive without a flush.
func TestSetupMetricIntervalVariable(t *testing.T) {
	clearOTelEnv(t)
	r := otlptest.Start(t)
	t.Setenv(envMetricExportInterval, "50")
	tel := setup(t, WithEndpoint(r.HTTPEndpoint()))
	recordExecutorLike(t, tel.MeterProvider())
	deadline := time.Now().Add(5 * time.Second)
	for len(r.MetricBatches()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no metric export within 5s at an interval of 50ms")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sdkLog keeps the lines the SDK logs through otel's logger (otel.SetLogger)
// while a test runs.
type sdkLog struct {
	mu    sync.Mutex
	lines []string
}

var (
	logging    atomic.Pointer[sdkLog]
	loggerOnce sync.Once
)

// recordSDKLog collects otel's log until the test ends. The logger is
// installed once: otel.SetLogger cannot be undone.
func recordSDKLog(t *testing.T) *sdkLog {
	t.Helper()
	loggerOnce.Do(func() {
		otel.SetLogger(funcr.New(func(prefix, args string) {
			if l := logging.Load(); l != nil {
				l.mu.Lock()
				defer l.mu.Unlock()
				l.lines = append(l.lines, args)
			}
		}, funcr.Options{}))
	})
	l := &sdkLog{}
	logging.Store(l)
	t.Cleanup(func() { logging.CompareAndSwap(l, nil) })
	return l
}

// about returns the lines that name the variable env.
func (l *sdkLog) about(env string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.Contains(line, `"`+env+`"`) {
			out = append(out, line)
		}
	}
	return out
}

// TestSetupMetricReaderVariablesInvalid: the periodic reader checks
// OTEL_METRIC_EXPORT_* itself: a value that is not a positive integer of
// milliseconds is an error in otel's log naming the variable, the default
// applies (no export before a flush with the 60 s interval), and Setup
// starts and exports.
func TestSetupMetricReaderVariablesInvalid(t *testing.T) {
	r := otlptest.Start(t)
	for _, name := range []string{envMetricExportInterval, envMetricExportTimeout} {
		for _, v := range []string{"-1", "0", "ten", "1.5", "99999999999999999999", strconv.Itoa(math.MaxInt64/int(time.Millisecond) + 1)} {
			t.Run(name+"="+v, func(t *testing.T) {
				clearOTelEnv(t)
				t.Setenv(name, v)
				logs := recordSDKLog(t)
				before := len(r.MetricBatches())
				tel := setup(t, WithEndpoint(r.HTTPEndpoint()))
				recordExecutorLike(t, tel.MeterProvider())
				if l := logs.about(name); len(l) != 1 {
					t.Errorf("otel's log %q, want one line naming %s", l, name)
				}
				if name == envMetricExportInterval {
					time.Sleep(100 * time.Millisecond)
					if n := len(r.MetricBatches()) - before; n != 0 {
						t.Errorf("%d metric exports before any flush: the interval in force is not the default", n)
					}
				}
				if err := tel.ForceFlush(ctxTimeout(t, 10*time.Second)); err != nil {
					t.Fatal(err)
				}
				if len(r.MetricBatches()) == before {
					t.Error("no metric export after a flush")
				}
			})
		}
	}
}
