// Command library is README.md's "Use it as a library", complete: a stateful
// router's start-up with sfotel. It sets up telemetry, instruments the Redis
// client, gives three pods of service "match" a heartbeat, links a user to the
// least-loaded one, and serves /metrics and the live report until Ctrl-C.
//
//	go run ./examples/library   # Redis at $REDIS_ADDR, else 127.0.0.1:6379
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/exporters"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/redisinstr"
	"github.com/statefulroute/sfotel/report"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, getenv("REDIS_ADDR", "127.0.0.1:6379"), getenv("LISTEN_ADDR", exporters.DefaultListenAddr)); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, redisAddr, listen string) (err error) {
	// Without ContextTimeoutEnabled go-redis ignores the callers' deadlines.
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr, ContextTimeoutEnabled: true})
	defer rdb.Close()

	coll, err := report.NewCollector() // the live report's metric reader
	if err != nil {
		return err
	}
	tel, err := exporters.Setup(ctx,
		exporters.WithServiceName("router"),
		exporters.WithPrometheus(), // tel.Prometheus() serves /metrics
		exporters.WithReader(coll.Reader()),
		exporters.WithGlobal(), // OTLP too when OTEL_EXPORTER_OTLP_ENDPOINT is set
	)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, tel.Shutdown(context.Background())) }()

	inst, err := redisinstr.Instrument(rdb) // pool, connection-status and command metrics
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, inst.Close()) }()

	exec, err := otelexec.New(rdb) // no I/O; global providers by default
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, exec.Close()) }()
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second) // fail fast on a bad Redis
	err = exec.LoadScripts(lctx)
	cancel()
	if err != nil {
		return err
	}

	// Pods heartbeat their state, "<load>-<unix seconds>". ComputeLinkedPod
	// links a user to the least-loaded pod with a recent heartbeat; on a
	// Redis where no pod has one it returns -1.
	for pod, load := range []int{7, 3, 5} {
		if err := exec.SetServiceState(ctx, "prod", "match", pod, otelexec.FormatPodState(load, time.Now())); err != nil {
			return err
		}
	}
	pod, err := exec.ComputeLinkedPod(ctx, "prod", "user-42", "match", 30*time.Second, otelexec.PersistForever)
	if err != nil {
		return err
	}
	fmt.Println("user-42 is on pod", pod) // 1, the least loaded (or the pod of an earlier run)

	mux := http.NewServeMux()
	mux.Handle("/metrics", tel.Prometheus())
	mux.Handle(report.DefaultPath, report.Handler(coll))
	ln, err := net.Listen("tcp", listen) // a busy address is a start-up error
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 90 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	fmt.Printf("serving http://%s/metrics and http://%[1]s%s until Ctrl-C\n", ln.Addr(), report.DefaultPath)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func getenv(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
