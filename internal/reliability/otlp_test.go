package reliability

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/statefulroute/sfotel/exporters"
	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/metrictest"
	"github.com/statefulroute/sfotel/internal/otlptest"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
)

const otlpExportTimeout = 300 * time.Millisecond

// otlpSetup starts an OTLP receiver in mode and the exporters' Setup pointed
// at it (all spans sampled, metrics every 100 ms), plus a ManualReader.
func otlpSetup(tb testing.TB, mode otlptest.Mode, proto exporters.Protocol, timeout time.Duration) (*otlptest.Receiver, *exporters.Telemetry, *sdkmetric.ManualReader) {
	tb.Helper()
	recv := otlptest.Start(tb, otlptest.WithMode(mode))
	endpoint := recv.HTTPEndpoint()
	if proto == exporters.ProtocolGRPC {
		endpoint = recv.GRPCEndpoint()
	}
	reader := sdkmetric.NewManualReader()
	tel, err := exporters.Setup(context.Background(),
		exporters.WithServiceName("reliability"),
		exporters.WithEndpoint(endpoint),
		exporters.WithProtocol(proto), exporters.WithTimeout(timeout),
		exporters.WithMetricInterval(100*time.Millisecond),
		exporters.WithSampler(sdktrace.AlwaysSample()),
		exporters.WithReader(reader),
		exporters.WithLogger(slog.New(slog.DiscardHandler)), // the outage warnings would flood the output
	)
	if err != nil {
		tb.Fatalf("exporters.Setup: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = tel.Shutdown(ctx)
	})
	return recv, tel, reader
}

// TestOTLPOutageNeverBlocks runs 50 goroutines of executor operations with
// every span exported over OTLP to a collector that is black-holed, refuses
// connections or rejects every export. Every operation must succeed within
// its deadline; Shutdown must return within its deadline; spans the
// collector did not take must be counted (Stats and the dropped-spans
// counter) and none reported as exported. Accept is the control: spans
// arrive.
func TestOTLPOutageNeverBlocks(t *testing.T) {
	rdb := redistest.Client(t)
	for _, tc := range []struct {
		mode  otlptest.Mode
		proto exporters.Protocol
	}{
		{otlptest.BlackHole, exporters.ProtocolGRPC},
		{otlptest.BlackHole, exporters.ProtocolHTTPProtobuf},
		{otlptest.Refuse, exporters.ProtocolHTTPProtobuf},
		{otlptest.Reject, exporters.ProtocolGRPC},
		{otlptest.Accept, exporters.ProtocolHTTPProtobuf},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.mode, tc.proto), func(t *testing.T) {
			goroutinesBefore := runtime.NumGoroutine()
			recv, tel, reader := otlpSetup(t, tc.mode, tc.proto, otlpExportTimeout)
			e := newExecutor(t, rdb, otelexec.WithTracerProvider(tel.TracerProvider()), otelexec.WithMeterProvider(tel.MeterProvider()))
			ns := redistest.Namespace(t)

			const workers, opsEach, opDeadline = 50, 20, 2 * time.Second
			var (
				wg      sync.WaitGroup
				failed  atomic.Int64
				slowest atomic.Int64
				first   atomic.Value
			)
			start := time.Now()
			for w := range workers {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := range opsEach {
						uid := fmt.Sprintf("u%d-%d", w, i%5)
						t0 := time.Now()
						err := withTimeout(opDeadline, func(ctx context.Context) error {
							if i%2 == 0 {
								_, err := e.SetLinkedPod(ctx, ns, uid, "svc", i, -1)
								return err
							}
							_, err := e.GetLinkedPod(ctx, ns, uid, "svc")
							return err
						})
						if d := time.Since(t0); int64(d) > slowest.Load() {
							slowest.Store(int64(d))
						}
						if err != nil {
							failed.Add(1)
							first.CompareAndSwap(nil, err.Error())
						}
					}
				}(w)
			}
			wg.Wait()
			elapsed := time.Since(start)
			if n := failed.Load(); n > 0 {
				t.Fatalf("%d operations failed with the collector in mode %s; first: %v", n, tc.mode, first.Load())
			}

			// Let at least one export fail (or, for Accept, succeed).
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				s := tel.Stats()
				if tc.mode == otlptest.Accept && s.SpansExported > 0 || tc.mode != otlptest.Accept && s.SpansDropped > 0 {
					break
				}
				if tc.mode == otlptest.Accept {
					_ = tel.TracerProvider().ForceFlush(context.Background())
				}
				time.Sleep(20 * time.Millisecond)
			}
			rm := metrictest.Collect(t, reader)
			droppedMetric := sumWhere(rm, contract.MetricExporterSpansDropped)

			shutdownStart := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			shutdownErr := tel.Shutdown(ctx)
			cancel()
			shutdownTook := time.Since(shutdownStart)
			s := tel.Stats()
			t.Logf("%d ops in %v (slowest %v); shutdown %v (%v); stats %+v; dropped-spans counter before shutdown %v; receiver %+v",
				workers*opsEach, elapsed.Round(time.Millisecond), time.Duration(slowest.Load()).Round(time.Millisecond),
				shutdownTook.Round(time.Millisecond), shutdownErr, s, droppedMetric, recv.Counts())
			if shutdownTook > time.Second+500*time.Millisecond {
				t.Errorf("Shutdown took %v with a 1 s deadline", shutdownTook)
			}
			if s.SpansQueued < workers*opsEach {
				t.Errorf("SpansQueued = %d, want >= %d (one span per operation)", s.SpansQueued, workers*opsEach)
			}
			if s.SpansExported+s.SpansDropped > s.SpansQueued {
				t.Errorf("exported %d + dropped %d > queued %d", s.SpansExported, s.SpansDropped, s.SpansQueued)
			}
			// Nothing the pipeline started outlives Shutdown (the receiver,
			// the test's own stand-in, is closed first).
			if err := e.Close(); err != nil {
				t.Errorf("executor Close: %v", err)
			}
			recv.Close()
			settleGoroutines(t, goroutinesBefore, 5*time.Second)
			if tc.mode == otlptest.Accept {
				// Shutdown's error is TestOTLPHealthyShutdownNoError's subject.
				if s.SpansExported != s.SpansQueued || s.SpansDropped != 0 {
					t.Errorf("healthy collector: queued %d, exported %d, dropped %d; want all exported", s.SpansQueued, s.SpansExported, s.SpansDropped)
				}
				return
			}
			if s.SpansExported != 0 {
				t.Errorf("collector in mode %s, yet %d spans counted as exported", tc.mode, s.SpansExported)
			}
			if s.SpansDropped == 0 || droppedMetric == 0 {
				t.Errorf("no dropped spans counted: Stats %d, %s %v", s.SpansDropped, contract.MetricExporterSpansDropped, droppedMetric)
			}
			if shutdownErr == nil {
				t.Error("Shutdown reported no error although spans were not delivered")
			}
		})
	}
}

// TestOTLPHealthyShutdownNoError shuts down a Setup whose collector takes
// everything, with a metric export in flight: the SDK's periodic reader
// cancels the in-flight export and then exports everything again (metrics are
// cumulative), so no data is lost and Shutdown must not report any.
func TestOTLPHealthyShutdownNoError(t *testing.T) {
	failures := 0
	const tries = 10
	for i := range tries {
		recv := otlptest.Start(t)
		tel, err := exporters.Setup(context.Background(),
			exporters.WithServiceName("reliability"),
			exporters.WithEndpoint(recv.HTTPEndpoint()),
			exporters.WithProtocol(exporters.ProtocolHTTPProtobuf),
			exporters.WithMetricInterval(2*time.Millisecond), // an export is almost always in flight
		)
		if err != nil {
			t.Fatal(err)
		}
		counter, _ := tel.MeterProvider().Meter("t").Int64Counter("reliability.shutdown.probe")
		counter.Add(context.Background(), int64(i+1))
		time.Sleep(20 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = tel.Shutdown(ctx)
		cancel()
		if err != nil {
			failures++
			t.Logf("try %d: Shutdown with a healthy collector: %v", i, err)
		}
		// The data did arrive: the final export carried the probe metric.
		if !slices.Contains(recv.MetricNames(), "reliability.shutdown.probe") {
			t.Errorf("try %d: the collector never received the probe metric", i)
		}
		recv.Close()
	}
	if failures > 0 {
		t.Errorf("%d of %d Shutdowns with a healthy collector reported lost metric exports", failures, tries)
	}
}

// BenchmarkOTLPCollector measures executor throughput at 50 goroutines
// (RunParallel with parallelism 25 on 2 CPUs) with every span exported over
// OTLP/gRPC to a collector that is healthy, black-holed or refusing. Compare
// the variants with benchstat: the outage variants must not be slower than
// the healthy one by more than the 5% budget of docs/reliability.md.
//
//	go test -run '^$' -bench BenchmarkOTLPCollector -count 6 ./internal/reliability/ | tee otlp.txt
//	benchstat -col /collector otlp.txt
func BenchmarkOTLPCollector(b *testing.B) {
	// A server of its own: the shared one's load from other tests would
	// swamp the difference being measured.
	rdb := serverClient(b, redistest.StartServer(b).Addr, 64)
	for _, v := range []struct {
		name string
		mode otlptest.Mode
	}{{"healthy", otlptest.Accept}, {"blackhole", otlptest.BlackHole}, {"refused", otlptest.Refuse}} {
		b.Run("collector="+v.name, func(b *testing.B) {
			// The SDK's default export timeout: a black-holed export then
			// hangs 10 s, as it would in production.
			_, tel, _ := otlpSetup(b, v.mode, exporters.ProtocolGRPC, 10*time.Second)
			e := newExecutor(b, rdb, otelexec.WithTracerProvider(tel.TracerProvider()), otelexec.WithMeterProvider(tel.MeterProvider()))
			ns := "bench.otlp"
			ctx := context.Background()
			var next atomic.Int64
			b.SetParallelism(25)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				uid := fmt.Sprintf("u%d", next.Add(1))
				i := 0
				for pb.Next() {
					var err error
					if i%2 == 0 {
						_, err = e.SetLinkedPod(ctx, ns, uid, "svc", i%10, 60)
					} else {
						_, err = e.GetLinkedPod(ctx, ns, uid, "svc")
					}
					if err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			b.StopTimer()
			// Spans not delivered so far: with a collector down, all of them
			// (dropped from the full queue or stuck in a hanging export).
			s := tel.Stats()
			b.ReportMetric(float64(s.SpansQueued-s.SpansExported)/float64(b.N), "undelivered/op")
		})
	}
}
