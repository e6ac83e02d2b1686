package redisinstr_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/redisinstr"
)

// exampleAddr is the Redis the examples talk to.
func exampleAddr() string {
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		return addr
	}
	return "127.0.0.1:6379"
}

// Instrument a client once, next to where it is created; Close the
// instrumentation when the client goes away.
func ExampleInstrument() {
	rdb := redis.NewClient(&redis.Options{Addr: exampleAddr()})
	defer rdb.Close()

	reader := sdkmetric.NewManualReader() // in a service: the Prometheus or OTLP reader
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	inst, err := redisinstr.Instrument(rdb, redisinstr.WithMeterProvider(mp))
	if err != nil {
		log.Fatal(err)
	}
	defer inst.Close()

	// The first probe ran inside Instrument: the status is known at once.
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != contract.MetricConnectionStatus {
				continue
			}
			for _, p := range m.Data.(metricdata.Gauge[int64]).DataPoints {
				status, _ := p.Attributes.Value(contract.AttrStatus)
				if p.Value == 1 {
					fmt.Println("redis is", status.AsString())
				}
			}
		}
	}
	// Output: redis is up
}

// A cluster client: every node gets its own pool series, named after its
// address behind the pool name, and the status is up only while every
// master answers. Command spans are opt-in; they come without caller
// lookup and without command text unless asked for.
func ExampleInstrument_cluster() {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"}})
	defer rdb.Close()

	inst, err := redisinstr.Instrument(rdb,
		redisinstr.WithPoolName("sessions"), // pools "sessions/10.0.0.1:7000", ...
		redisinstr.WithCommandSpans(true),
		redisinstr.WithProbeInterval(10*time.Second),
		redisinstr.WithProbeTimeout(500*time.Millisecond),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer inst.Close()
}
