// Command soak runs the executor at full speed for a long time and checks
// that memory and the metric series count stay flat while users churn
// through many distinct uids. It is run by hand against a real Redis, not in
// CI:
//
//	go run ./examples/soak -duration 5m                 # 127.0.0.1:6379
//	go run ./examples/soak -redis 10.0.0.5:6379 -uids 2000000 -workers 100
//
// Every -interval it forces a garbage collection and prints the live heap,
// the heap in use, the number of metric series the SDK holds, the go-redis
// connections open and the operations done. At the end it prints a verdict
// on the samples after the warm-up: the median live heap of their last third
// is within -heap-tolerance (10%) of the median of their first third, and the
// series count never changes. It exits 1 when either fails or an operation
// failed. A leak of even 10 bytes per uid would add about 10 MB per 1M uids,
// several times the few MiB the run keeps live. -heapprofile writes heap
// profiles of the first and last samples judged, to show what grew.
//
// The workload: 50 workers take uids from user-0 … user-<uids−1> in turn
// (then around again) and, per uid, link it with ComputeLinkedPod (a
// temporary link of 10 s, so Redis memory stays bounded), and now and then
// read the link back, remove it, look up a room of 16 users in one batch, or
// read the pod states; pods heartbeat every second through the same
// executor. The "uids seen" column shows how far the churn got. The
// executor has metrics, 100% tracing into a batch processor that discards,
// and the pod state cache.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if cfg.heapProfile != "" {
		// The live heap is a few MiB; the default rate (one sample per 512
		// KiB allocated) would describe it with a handful of samples.
		runtime.MemProfileRate = 4096
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}
