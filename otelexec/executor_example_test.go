package otelexec_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/statefulroute/sfotel/otelexec"
)

// redisForExample starts an embedded Redis so the examples run anywhere.
// In a program, point redis.NewClient at your Redis instead.
func redisForExample() (*redis.Client, func()) {
	m, err := miniredis.Run()
	if err != nil {
		log.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	return rdb, func() { _ = rdb.Close(); m.Close() }
}

func ExampleNew() {
	rdb, stop := redisForExample()
	defer stop()
	ctx := context.Background()

	// The application's providers; without these options the executor uses
	// the global ones.
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(ctx) }()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { _ = mp.Shutdown(ctx) }()

	exec, err := otelexec.New(rdb, otelexec.WithTracerProvider(tp), otelexec.WithMeterProvider(mp))
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()

	previous, err := exec.SetLinkedPod(ctx, "prod", "user-1", "game", 3, otelexec.PersistForever)
	if err != nil {
		log.Fatal(err)
	}
	pod, err := exec.GetLinkedPod(ctx, "prod", "user-1", "game")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("previous:", previous, "now:", pod)
	// Output: previous: -1 now: 3
}

func ExampleExecutor_ComputeLinkedPod() {
	rdb, stop := redisForExample()
	defer stop()
	ctx := context.Background()
	exec, err := otelexec.New(rdb)
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()

	// Pods report their load and a heartbeat.
	now := time.Now()
	_ = exec.SetServiceState(ctx, "prod", "game", 1, otelexec.FormatPodState(7, now))
	_ = exec.SetServiceState(ctx, "prod", "game", 2, otelexec.FormatPodState(2, now))
	_ = exec.SetServiceState(ctx, "prod", "game", 3, otelexec.FormatPodState(0, now.Add(-time.Hour))) // dead

	// A new user goes to the least-loaded live pod; afterwards the link wins.
	pod, err := exec.ComputeLinkedPod(ctx, "prod", "user-1", "game", 30*time.Second, otelexec.PersistForever)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("user-1 →", pod)
	// Output: user-1 → 2
}

func ExampleExecutor_TrySetLinkedPod() {
	rdb, stop := redisForExample()
	defer stop()
	ctx := context.Background()
	exec, err := otelexec.New(rdb)
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()

	// A temporary link (60 s) gives way; a persistent one does not.
	ok, pod, _ := exec.TrySetLinkedPod(ctx, "prod", "user-1", "chat", 4, 60)
	fmt.Println(ok, pod)
	ok, pod, _ = exec.TrySetLinkedPod(ctx, "prod", "user-1", "chat", 5, otelexec.PersistForever)
	fmt.Println(ok, pod)
	ok, pod, _ = exec.TrySetLinkedPod(ctx, "prod", "user-1", "chat", 6, otelexec.PersistForever)
	fmt.Println(ok, pod)
	// Output:
	// true 4
	// true 5
	// false 5
}

func ExampleExecutor_BatchGetLinkedPod() {
	rdb, stop := redisForExample()
	defer stop()
	ctx := context.Background()
	exec, err := otelexec.New(rdb)
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()

	for _, uid := range []string{"a", "b"} {
		_, _ = exec.SetLinkedPod(ctx, "prod", uid, "game", 1, otelexec.PersistForever)
	}
	_, _ = exec.SetLinkedPod(ctx, "prod", "c", "game", 2, otelexec.PersistForever)

	byPod, err := exec.BatchGetLinkedPod(ctx, "prod", []string{"a", "b", "c", "never-linked"}, "game")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(byPod[1]), "users on pod 1,", len(byPod[2]), "on pod 2")
	// Output: 2 users on pod 1, 1 on pod 2
}

func ExampleExecutor_RemoveLinkedPod() {
	rdb, stop := redisForExample()
	defer stop()
	ctx := context.Background()
	exec, err := otelexec.New(rdb)
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()

	_, _ = exec.SetLinkedPod(ctx, "prod", "user-1", "game", 3, otelexec.PersistForever)
	// Keep the link for 30 s so a reconnecting user finds its pod again.
	removed, _ := exec.RemoveLinkedPod(ctx, "prod", "user-1", "game", 30)
	stillThere, _ := exec.GetLinkedPod(ctx, "prod", "user-1", "game")
	persistent, _ := exec.GetLinkedPodIfPersist(ctx, "prod", "user-1", "game")
	fmt.Println(removed, stillThere, persistent)
	// Output: true 3 -1
}

func ExampleArgumentError() {
	rdb, stop := redisForExample()
	defer stop()
	exec, err := otelexec.New(rdb)
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()

	_, err = exec.GetLinkedPod(context.Background(), "prod", "user{1}", "game")
	var argErr *otelexec.ArgumentError
	if errors.Is(err, otelexec.ErrInvalidArgument) && errors.As(err, &argErr) {
		fmt.Println("rejected field:", argErr.Field)
		fmt.Println(err)
	}
	// Output:
	// rejected field: uid
	// otelexec: invalid uid: contains '{'
}

func ExampleParsePodState() {
	state := otelexec.FormatPodState(12, time.Unix(1_764_000_000, 0))
	load, heartbeat, err := otelexec.ParsePodState(state)
	fmt.Println(state, load, heartbeat.Unix(), err)
	// Output: 12-1764000000 12 1764000000 <nil>
}

func ExampleWithServiceAttributes() {
	rdb, stop := redisForExample()
	defer stop()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	// Operations are then also counted by namespace and service, on
	// stateful_executor.service.operations, within the MeterProvider's
	// cardinality limit (sdkmetric.WithCardinalityLimit).
	exec, err := otelexec.New(rdb, otelexec.WithMeterProvider(mp), otelexec.WithServiceAttributes(true))
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()
	pod, err := exec.GetLinkedPod(context.Background(), "example", "u", "game")
	fmt.Println(pod, err)
	// Output: -1 <nil>
}
