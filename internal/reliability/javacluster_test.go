package reliability

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/statefulroute/sfotel/internal/javatest"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
)

// TestJavaComputeCrossSlotOnCluster: on a real 3-master Redis Cluster the
// Java compute script fails with CROSSSLOT, because its two keys, the
// user's link hash sf:{<ns>:lk:<uid>} and the pod state hash
// sf:{<ns>:state:<svc>}, have different hash tags. sfotel's
// ComputeLinkedPod works on the same cluster (it reads the states, then
// links with a script on the user's slot), and it honours a link the Java
// side wrote with a single-slot script.
func TestJavaComputeCrossSlotOnCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	cc := cl.Client(t)
	e := newExecutor(t, cc)
	t.Cleanup(func() { _ = e.Close() })
	j := javatest.New(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const ns, svc = "rel.java", "game"
	now := time.Now()
	for pod, load := range []int{5, 1, 3} {
		if err := e.SetServiceState(ctx, ns, svc, pod, otelexec.FormatPodState(load, now)); err != nil {
			t.Fatal(err)
		}
	}
	// Find a user whose hash tag lives on another slot than the states'
	// (CLUSTER KEYSLOT), so the two keys really differ.
	stateSlot := cc.ClusterKeySlot(ctx, stateKey(ns, svc)).Val()
	uid := ""
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin"} {
		if cc.ClusterKeySlot(ctx, linkHashKey(ns, u)).Val() != stateSlot {
			uid = u
			break
		}
	}
	if uid == "" {
		t.Fatal("no user on another slot than the pod states")
	}

	_, err := j.ComputeLinkedPod(ctx, ns, uid, svc, now.Add(-time.Minute).Unix())
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("the Java compute script on a cluster: %v, want CROSSSLOT", err)
	}
	t.Logf("Java compute on a 3-master cluster: %v", err)

	pod, err := e.ComputeLinkedPod(ctx, ns, uid, svc, time.Minute, otelexec.PersistForever)
	if err != nil || pod != 1 {
		t.Fatalf("sfotel ComputeLinkedPod on the same cluster = %d, %v; want 1", pod, err)
	}
	// The Java side's single-slot link scripts work there, and sfotel
	// honours what they write.
	if _, err := j.SetLinkedPod(ctx, ns, "frank", svc, 2, -1); err != nil {
		t.Fatalf("Java SetLinkedPod on a cluster: %v", err)
	}
	if pod, err := e.ComputeLinkedPod(ctx, ns, "frank", svc, time.Minute, otelexec.PersistForever); err != nil || pod != 2 {
		t.Fatalf("sfotel ComputeLinkedPod over a Java link = %d, %v; want 2", pod, err)
	}
	// A hash field alone (what the Java compute script would write, were it
	// run where it works) is the user's link for sfotel on a cluster too.
	if err := cc.HSet(ctx, linkHashKey(ns, "grace"), svc, "0").Err(); err != nil {
		t.Fatal(err)
	}
	if pod, err := e.ComputeLinkedPod(ctx, ns, "grace", svc, time.Minute, otelexec.PersistForever); err != nil || pod != 0 {
		t.Fatalf("sfotel ComputeLinkedPod over a hash field alone = %d, %v; want 0", pod, err)
	}
	got, err := e.BatchGetLinkedPod(ctx, ns, []string{uid, "frank", "grace"}, svc)
	if err != nil || len(got[1]) != 1 || len(got[2]) != 1 || len(got[0]) != 1 {
		t.Fatalf("BatchGetLinkedPod across slots = %v, %v", got, err)
	}
}
