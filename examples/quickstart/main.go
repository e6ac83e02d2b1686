// Command quickstart is sfotel's main job: a simulated stateful router on the
// executor, with all of its telemetry on show.
//
// Pods heartbeat their "<load>-<ts>" state, users log in through
// ComputeLinkedPod (least-loaded live pod), routers look them up one by one
// and in batches, users log out with a reconnect grace period, and services
// publish their workload state. Meanwhile the run serves /metrics
// (Prometheus), /debug/report (JSON, text or HTML) and /debug/pprof/, sends
// OTLP if asked, prints a progress line every few seconds and a report at
// the end.
//
//	go run ./examples/quickstart                       # embedded Redis, 15 s
//	go run ./examples/quickstart -redis 127.0.0.1:6379 -duration 0 -otlp http://127.0.0.1:4318
//
// See examples/quickstart/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(2)
	}
	// go-redis logs every failed dial itself; the run reports an unreachable
	// Redis once, clearly, and counts failed operations, so its own log lines
	// are only noise here.
	redis.SetLogger(discardRedisLog{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		stop()
		os.Exit(1)
	}
}

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}
