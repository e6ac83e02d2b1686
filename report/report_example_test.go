package report_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/report"
)

// record stands in for the executor: it records calls of one operation on
// the contract's instruments.
func record(mp metric.MeterProvider, op string, n int, seconds float64, errType string) {
	ctx := context.Background()
	m := mp.Meter(otelexec.ScopeName, metric.WithInstrumentationVersion(otelexec.Version))
	calls, _ := m.Int64Counter(contract.MetricOperations)
	errs, _ := m.Int64Counter(contract.MetricErrors)
	dur, _ := m.Float64Histogram(contract.MetricOperationDuration)
	status := contract.StatusOK
	if errType != "" {
		status = contract.StatusError
	}
	for range n {
		calls.Add(ctx, 1, metric.WithAttributes(attribute.String(contract.AttrOperation, op), attribute.String(contract.AttrStatus, status)))
		dur.Record(ctx, seconds, metric.WithAttributes(attribute.String(contract.AttrOperation, op)))
		if errType != "" {
			errs.Add(ctx, 1, metric.WithAttributes(attribute.String(contract.AttrOperation, op), attribute.String(contract.AttrErrorType, errType)))
		}
	}
}

func ExampleCollector_Snapshot() {
	collector, err := report.NewCollector()
	if err != nil {
		fmt.Println(err)
		return
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(collector.Reader()))
	defer mp.Shutdown(context.Background())

	record(mp, contract.OpGetLinkedPod.String(), 980, 0.0004, "")
	record(mp, contract.OpGetLinkedPod.String(), 20, 0.050, contract.ErrorTimeout.String())

	snap, err := collector.Snapshot(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	rep := snap.Report()
	op := rep.Operation(contract.OpGetLinkedPod.String())
	fmt.Printf("%s: %d calls, %d errors, p50 %.1fms, p99 %.0fms\n",
		op.Name, op.Count, op.Errors, op.P50Seconds*1e3, op.P99Seconds*1e3)
	for _, s := range rep.Suggestions {
		fmt.Println(s.Severity, s.ID, s.Operation)
	}
	fmt.Println(rep.Suggestions[0].Message)
	// Output:
	// GetLinkedPod: 1000 calls, 20 errors, p50 0.4ms, p99 50ms
	// warning error_rate GetLinkedPod
	// warning tail_latency GetLinkedPod
	// info batch_get_linked_pod GetLinkedPod
	// GetLinkedPod: 2.0% of 1000 calls failed (20 errors, threshold 1.0%); most were timeout (20). Redis answered too slowly: check its latency (SLOWLOG, CPU) and the client read/write timeouts.
}

func ExampleDelta() {
	collector, err := report.NewCollector()
	if err != nil {
		fmt.Println(err)
		return
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(collector.Reader()))
	defer mp.Shutdown(context.Background())

	record(mp, contract.OpSetLinkedPod.String(), 500, 0.001, "")
	first, _ := collector.Snapshot(context.Background())
	record(mp, contract.OpSetLinkedPod.String(), 200, 0.008, "")
	second, _ := collector.Snapshot(context.Background())

	interval := report.Delta(first, second)
	op := interval.Operation(contract.OpSetLinkedPod.String())
	fmt.Printf("interval: %d calls, p50 %.0fms (cumulative p50 %.0fms)\n",
		op.Count, op.P50Seconds*1e3, second.Report().Operation(contract.OpSetLinkedPod.String()).P50Seconds*1e3)
	fmt.Println("window starts where the first snapshot ended:", interval.Window.Start.Equal(first.Report().Window.End))
	// Output:
	// interval: 200 calls, p50 8ms (cumulative p50 1ms)
	// window starts where the first snapshot ended: true
}

func ExampleHandler() {
	collector, err := report.NewCollector(report.WithWarmup(time.Minute))
	if err != nil {
		fmt.Println(err)
		return
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(collector.Reader()))
	defer mp.Shutdown(context.Background())
	record(mp, contract.OpGetLinkedPod.String(), 10, 0.0003, "")

	mux := http.NewServeMux()
	mux.Handle(report.DefaultPath, report.Handler(collector))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, query := range []string{"", "?format=text", "?format=html", "?format=yaml"} {
		resp, err := http.Get(srv.URL + "/debug/report" + query)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// Output:
	// 200 application/json; charset=utf-8
	// 200 text/plain; charset=utf-8
	// 200 text/html; charset=utf-8
	// 400 text/plain; charset=utf-8
}
