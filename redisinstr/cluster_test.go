package redisinstr

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
)

// poolNames returns the pool names with a db.client.connection.max point.
func poolNames(rm metricdata.ResourceMetrics) map[string]bool {
	out := make(map[string]bool)
	m, ok := findMetric(rm, contract.MetricPoolMax)
	if !ok {
		return out
	}
	for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
		v, _ := p.Attributes.Value(semconv.DBClientConnectionPoolNameKey)
		out[v.AsString()] = true
	}
	return out
}

func TestClusterPoolMetricsPerNode(t *testing.T) {
	const interval = 200 * time.Millisecond
	cl := redistest.StartCluster(t, 3)
	cc := cl.Client(t)
	mp, reader := testMeter(t)
	inst, err := Instrument(cc, WithMeterProvider(mp), WithProbeInterval(interval))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	ctx := context.Background()

	names := poolNames(collect(t, reader))
	for _, addr := range cl.Addrs() {
		if !names[addr] {
			t.Errorf("no pool series for node %s; have %v", addr, names)
		}
	}
	if !status(t, reader) {
		t.Fatal("cluster status down with every master up")
	}

	// Keys on every master (64 keys spread over the slots of a test-owned
	// cluster): each node's pool opens connections.
	for k := range 64 {
		if err := cc.Set(ctx, fmt.Sprintf("per-node:%d", k), "v", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	rm := collect(t, reader)
	for _, addr := range cl.Addrs() {
		pool := semconv.DBClientConnectionPoolName(addr)
		idle := mustPoint(t, rm, contract.MetricPoolConnectionCount, pool, semconv.DBClientConnectionStateIdle)
		used := mustPoint(t, rm, contract.MetricPoolConnectionCount, pool, semconv.DBClientConnectionStateUsed)
		if idle+used < 1 {
			t.Errorf("node %s: %v idle + %v used connections after SETs on every master, want >= 1", addr, idle, used)
		}
		if hits := mustPoint(t, rm, contract.MetricPoolHits, pool); hits < 1 {
			t.Errorf("node %s: pool hits = %v, want >= 1", addr, hits)
		}
	}

	// A master that dies makes the whole client down.
	cl.Servers[2].Kill()
	if !eventually(2*interval+100*time.Millisecond, func() bool { return !status(t, reader) }) {
		t.Fatal("cluster status still up two intervals after a master was killed")
	}
}

// TestClusterNodeAddedLater adds a fourth master to a running cluster and
// moves a slot to it: the client creates the node client only then, and its
// pool must be observed without instrumenting again.
func TestClusterNodeAddedLater(t *testing.T) {
	redistest.RequireBinary(t, "redis-cli")
	cl := redistest.StartCluster(t, 3)
	cc := cl.Client(t)
	mp, reader := testMeter(t)
	inst, err := Instrument(cc, WithMeterProvider(mp), WithProbeInterval(100*time.Millisecond), WithPoolName("sessions"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	ctx := context.Background()

	extra := redistest.StartServer(t, "--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(t.TempDir(), "nodes.conf"), "--cluster-node-timeout", "2000")
	if names := poolNames(collect(t, reader)); names["sessions/"+extra.Addr] {
		t.Fatal("the new node is observed before it joined")
	}
	redisCLI(t, "--cluster", "add-node", extra.Addr, cl.Servers[0].Addr)
	from := nodeID(t, cl.Servers[0].Addr)
	to := nodeID(t, extra.Addr)
	// add-node returns before every node knows the new one; reshard
	// checks that the cluster agrees, so retry until it does.
	if !eventually(20*time.Second, func() bool {
		return exec.Command("redis-cli", "--cluster", "reshard", cl.Servers[0].Addr,
			"--cluster-from", from, "--cluster-to", to, "--cluster-slots", "16", "--cluster-yes").Run() == nil
	}) {
		t.Fatal("reshard to the new node did not succeed within 20s")
	}
	cc.ReloadState(ctx)

	if !eventually(10*time.Second, func() bool {
		// Traffic lets the client find the new master (MOVED, state reload).
		for k := range 64 {
			_ = cc.Set(ctx, fmt.Sprintf("added-later:%d", k), "v", time.Minute).Err()
		}
		return poolNames(collect(t, reader))["sessions/"+extra.Addr]
	}) {
		t.Fatalf("no pool series for the added node %s; have %v", extra.Addr, poolNames(collect(t, reader)))
	}
	for _, s := range cl.Servers {
		if !poolNames(collect(t, reader))["sessions/"+s.Addr] {
			t.Errorf("pool series of %s gone after the new node arrived", s.Addr)
		}
	}
	if !eventually(time.Second, func() bool { return status(t, reader) }) {
		t.Error("cluster status down with four masters up")
	}
}

func redisCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("redis-cli", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func nodeID(t *testing.T, addr string) string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	id, err := c.Do(context.Background(), "CLUSTER", "MYID").Text()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestClusterDownAtInstrument(t *testing.T) {
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{fmt.Sprintf("127.0.0.1:%d", port)}})
	t.Cleanup(func() { _ = cc.Close() })
	mp, reader := testMeter(t)
	start := time.Now()
	inst, err := Instrument(cc, WithMeterProvider(mp), WithProbeTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatalf("Instrument with the cluster down: %v, want a down status", err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	if d := time.Since(start); d > time.Second {
		t.Errorf("Instrument took %v with the cluster down, want about two 200ms probe timeouts", d)
	}
	if status(t, reader) {
		t.Fatal("cluster status up with nothing listening")
	}
}
