package exporters_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/statefulroute/sfotel/exporters"
)

// printSeries GETs url and prints the exposition lines that start with
// prefix.
func printSeries(url, prefix string, header ...string) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if len(header) == 2 {
		req.Header.Set(header[0], header[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.Status)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			fmt.Println(sc.Text())
		}
	}
}

// Setup with a Prometheus reader, serving /metrics. In a service, listen on
// exporters.DefaultListenAddr (loopback) and pass tel's providers to
// otelexec.New and redisinstr.Instrument; OTLP export is switched on by the
// standard OTEL_EXPORTER_OTLP_ENDPOINT variable or WithEndpoint.
func ExampleSetup() {
	ctx := context.Background()
	tel, err := exporters.Setup(ctx, exporters.WithServiceName("router"), exporters.WithServiceVersion("1.0.0"), exporters.WithPrometheus(),
		exporters.WithoutOTLP(), // this example sends nothing anywhere
	)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := tel.Shutdown(ctx); err != nil {
			log.Print(err)
		}
	}()

	ops, _ := tel.MeterProvider().Meter("example").Int64Counter("stateful_executor.operations")
	ops.Add(ctx, 2, metric.WithAttributes(attribute.String("operation", "GetLinkedPod"), attribute.String("status", "ok")))

	mux := http.NewServeMux()
	mux.Handle("/metrics", tel.Prometheus())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	printSeries(srv.URL+"/metrics", "stateful_executor_operations_total")
	// Output:
	// 200 OK
	// stateful_executor_operations_total{operation="GetLinkedPod",status="ok"} 2
}

// A Prometheus reader on its own MeterProvider, without Setup.
func ExampleNewPrometheus() {
	prom, err := exporters.NewPrometheus(exporters.WithGoCollector(false), exporters.WithProcessCollector(false))
	if err != nil {
		log.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(prom))
	defer mp.Shutdown(context.Background())

	ratio, _ := mp.Meter("example").Float64Gauge("stateful_executor.cache_hit_ratio", metric.WithUnit("1"))
	ratio.Record(context.Background(), 0.98, metric.WithAttributes(attribute.String("cache_type", "script")))

	srv := httptest.NewServer(prom)
	defer srv.Close()
	printSeries(srv.URL, "stateful_executor_")
	// Output:
	// 200 OK
	// stateful_executor_cache_hit_ratio{cache_type="script"} 0.98
}

// The bridge registers with any prometheus.Registerer; here one that adds a
// constant label, served by the registry it wraps.
func ExampleWithRegisterer() {
	reg := prometheus.NewRegistry()
	prom, err := exporters.NewPrometheus(
		exporters.WithRegisterer(prometheus.WrapRegistererWith(prometheus.Labels{"team": "routing"}, reg)),
		exporters.WithGatherer(reg),
		exporters.WithGoCollector(false), exporters.WithProcessCollector(false),
	)
	if err != nil {
		log.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(prom))
	defer mp.Shutdown(context.Background())

	ops, _ := mp.Meter("example").Int64Counter("stateful_executor.operations")
	ops.Add(context.Background(), 1, metric.WithAttributes(attribute.String("operation", "GetLinkedPod"), attribute.String("status", "ok")))

	srv := httptest.NewServer(prom)
	defer srv.Close()
	printSeries(srv.URL, "stateful_executor_")
	// Output:
	// 200 OK
	// stateful_executor_operations_total{operation="GetLinkedPod",status="ok",team="routing"} 1
}
