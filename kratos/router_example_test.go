package sfkratos

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-kratos/kratos/v2/registry"
	khttp "github.com/go-kratos/kratos/v2/transport/http"
	"github.com/redis/go-redis/v9"

	"github.com/statefulroute/sfotel/otelexec"
)

// Two instances of a service on loopback, pods 1 and 2, each heartbeating
// its state; a Kratos HTTP client routes alice's calls with the Router. All
// of them land on pod 1 (both are idle, and the lowest pod ID wins ties)
// until pod 1 stops heartbeating: then she is moved to pod 2.
func ExampleRouter() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	exec, _ := otelexec.New(rdb)
	ns := "example-router-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	defer rdb.Del(ctx, "sf:{"+ns+":state:game}", "sf:{"+ns+":lk:alice}", "sf:{"+ns+":lk:alice}game")

	var instances staticDiscovery
	stopBeat := map[int]chan struct{}{}
	for _, id := range []int{1, 2} {
		hs := khttp.NewServer(khttp.Address("127.0.0.1:0"))
		hs.HandleFunc("/who", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"pod":` + strconv.Itoa(id) + `}`))
		})
		u, _ := hs.Endpoint()
		go func() { _ = hs.Start(ctx) }()
		defer func() { _ = hs.Stop(ctx) }()
		// Registered with its pod ID in the metadata, as a real registry
		// (etcd, Consul, Kubernetes) would list it.
		instances = append(instances, &registry.ServiceInstance{
			ID: "game-" + strconv.Itoa(id), Name: "game", Endpoints: []string{u.String()},
			Metadata: map[string]string{PodMetadataKey: strconv.Itoa(id)},
		})
		stop := make(chan struct{})
		stopBeat[id] = stop
		_ = exec.SetServiceState(ctx, ns, "game", id, otelexec.FormatPodState(0, time.Now()))
		go func() { // the instance's heartbeat
			for {
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
					_ = exec.SetServiceState(ctx, ns, "game", id, otelexec.FormatPodState(0, time.Now()))
				}
			}
		}()
	}
	defer close(stopBeat[2])

	router, _ := NewRouter(exec, ns, "game", 2*time.Second, otelexec.PersistForever)
	client, _ := khttp.NewClient(ctx, khttp.WithEndpoint("discovery:///game"),
		khttp.WithDiscovery(instances), khttp.WithNodeFilter(router.NodeFilter()), khttp.WithBlock())
	defer client.Close()
	who := func() {
		var out struct{ Pod int }
		err := client.Invoke(WithUser(ctx, "alice"), http.MethodGet, "/who", nil, &out)
		fmt.Println("alice on pod", out.Pod, err)
	}
	for range 3 {
		who()
	}
	close(stopBeat[1])
	time.Sleep(3500 * time.Millisecond) // pod 1's heartbeat grows older than aliveWithin
	who()
	who()
	// Output:
	// alice on pod 1 <nil>
	// alice on pod 1 <nil>
	// alice on pod 1 <nil>
	// alice on pod 2 <nil>
	// alice on pod 2 <nil>
}
