package otelexec_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/statefulroute/sfotel/otelexec"
)

// A router that reads a service's pod states on every request can keep them
// for a second: GetServiceState and ComputeLinkedPod then read Redis about
// once a second per service, and never return states older than that. The
// cache holds at most 64 MiB unless told otherwise; here 16 MiB, which is
// about 16,000 services of 16 pods, or 90 of 5000.
func ExampleWithStateCache() {
	rdb, stop := redisForExample()
	defer stop()
	ctx := context.Background()

	exec, err := otelexec.New(rdb, otelexec.WithStateCache(time.Second), otelexec.WithStateCacheMaxBytes(16<<20))
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()

	now := time.Now()
	for pod, load := range []int{7, 2, 5} {
		if err := exec.SetServiceState(ctx, "prod", "game", pod, otelexec.FormatPodState(load, now)); err != nil {
			log.Fatal(err)
		}
	}
	for _, uid := range []string{"user-1", "user-2"} {
		// The first call reads the pod states from Redis, the second from the cache.
		pod, err := exec.ComputeLinkedPod(ctx, "prod", uid, "game", 30*time.Second, 600)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(uid, "→ pod", pod)
	}
	// This executor's own writes are seen at once.
	if err := exec.SetServiceState(ctx, "prod", "game", 2, otelexec.FormatPodState(0, now)); err != nil {
		log.Fatal(err)
	}
	pod, err := exec.ComputeLinkedPod(ctx, "prod", "user-3", "game", 30*time.Second, 600)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("user-3 → pod", pod)
	// Output:
	// user-1 → pod 1
	// user-2 → pod 1
	// user-3 → pod 2
}
