package reliability

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/redisinstr"
)

// piiWorkload runs every operation, successes and failures, for the given
// uids and returns the texts that must never appear in telemetry: the uids,
// every Redis key the calls touch, and the state strings written.
func piiWorkload(ctx context.Context, tb testing.TB, e *otelexec.Executor, ns, svc string, uids []string) []string {
	tb.Helper()
	states := []string{otelexec.FormatPodState(4, time.Now()), otelexec.FormatPodState(2, time.Now())}
	secrets := append([]string{}, uids...)
	secrets = append(secrets, stateKey(ns, svc), workloadKey(ns, svc), "workload-secret-7f3a")
	secrets = append(secrets, states...)
	check := func(what string, err error) {
		if err != nil {
			tb.Fatalf("%s: %v", what, err)
		}
	}
	check("SetServiceState", e.SetServiceState(ctx, ns, svc, 1, states[0]))
	check("SetServiceState", e.SetServiceState(ctx, ns, svc, 2, states[1]))
	_, err := e.GetServiceState(ctx, ns, svc)
	check("GetServiceState", err)
	check("SetWorkloadState", e.SetWorkloadState(ctx, ns, svc, "workload-secret-7f3a"))
	_, err = e.GetWorkloadState(ctx, ns, svc)
	check("GetWorkloadState", err)
	_, err = e.GetWorkloadStateBatch(ctx, ns, []string{svc, "other"})
	check("GetWorkloadStateBatch", err)
	for i, uid := range uids {
		secrets = append(secrets, linkHashKey(ns, uid), linkKey(ns, uid, svc))
		_, err = e.ComputeLinkedPod(ctx, ns, uid, svc, time.Minute, -1)
		check("ComputeLinkedPod", err)
		_, err = e.SetLinkedPod(ctx, ns, uid, svc, i%3, -1)
		check("SetLinkedPod", err)
		_, _, err = e.TrySetLinkedPod(ctx, ns, uid, svc, 9, -1) // refused: persistent link to another pod
		check("TrySetLinkedPod", err)
		_, err = e.SetLinkedPodIfAbsent(ctx, ns, uid, svc, 5, -1)
		check("SetLinkedPodIfAbsent", err)
		_, err = e.GetLinkedPod(ctx, ns, uid, svc)
		check("GetLinkedPod", err)
		_, err = e.GetLinkedPodIfPersist(ctx, ns, uid, svc)
		check("GetLinkedPodIfPersist", err)
		_, err = e.GetLinkService(ctx, ns, uid)
		check("GetLinkService", err)
		_, err = e.RemoveLinkedPodWithID(ctx, ns, uid, svc, 8, 30) // wrong pod: false
		check("RemoveLinkedPodWithID", err)
		_, err = e.RemoveLinkedPod(ctx, ns, uid, svc, 30)
		check("RemoveLinkedPod", err)
	}
	_, err = e.BatchGetLinkedPod(ctx, ns, uids, svc)
	check("BatchGetLinkedPod", err)
	// Failures carry error messages into span status and events: a rejected
	// uid, a uid in a rejected batch, a cancelled call.
	badUID := uids[0] + "{bad}"
	secrets = append(secrets, badUID)
	if _, err := e.GetLinkedPod(ctx, ns, badUID, svc); err == nil {
		tb.Fatal("a uid with braces was accepted")
	}
	if _, err := e.BatchGetLinkedPod(ctx, ns, []string{uids[1], badUID}, svc); err == nil {
		tb.Fatal("a batch with a uid with braces was accepted")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.SetLinkedPod(cancelled, ns, uids[2], svc, 1, -1); err == nil {
		tb.Fatal("SetLinkedPod on a cancelled context succeeded")
	}
	return secrets
}

// spanTexts lists every text a span carries: name, attribute keys and values,
// status description, event names and attributes, link attributes.
func spanTexts(s sdktrace.ReadOnlySpan) []string {
	out := []string{s.Name(), s.Status().Description}
	kvs := func(list []attribute.KeyValue) {
		for _, kv := range list {
			out = append(out, string(kv.Key), kv.Value.Emit())
		}
	}
	kvs(s.Attributes())
	for _, ev := range s.Events() {
		out = append(out, ev.Name)
		kvs(ev.Attributes)
	}
	for _, l := range s.Links() {
		kvs(l.Attributes)
	}
	return out
}

// TestNoPIIInTelemetry runs a full workload (every operation, successes and
// failures) with SDK providers and default options, then scans every span
// name, attribute, event, status message and metric name and label for any
// uid, key or state text. None may appear.
//
// The client is also instrumented by redisinstr with its Redis command spans
// turned on (db.statement stays off unless asked for): those spans, and the
// pool metrics, must be free of keys too.
func TestNoPIIInTelemetry(t *testing.T) {
	rdb := redistest.Client(t)
	tel := newTelemetry(t)
	inst, err := redisinstr.Instrument(rdb, redisinstr.WithMeterProvider(tel.mp), redisinstr.WithTracerProvider(tel.tp),
		redisinstr.WithCommandSpans(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	e := newExecutor(t, rdb, tel.options(otelexec.WithRedisCommandSpans(true))...)
	ns := redistest.Namespace(t)
	const svc = "pii-svc"
	var uids []string
	for i := range 20 {
		uids = append(uids, fmt.Sprintf("alice.%d@example.com", i))
	}
	uids = append(uids, "user:42:*?[", "Ωmega-用户")
	secrets := piiWorkload(context.Background(), t, e, ns, svc, uids)

	spans := tel.spans.Ended()
	commandSpans := 0
	for _, s := range spans {
		if s.InstrumentationScope().Name != otelexec.ScopeName {
			commandSpans++
		}
	}
	if commandSpans == 0 {
		t.Error("no Redis command spans although redisinstr was asked for them")
	}
	if len(spans) < 9*len(uids) {
		t.Fatalf("only %d spans ended for a workload of %d uids", len(spans), len(uids))
	}
	texts, hits := 0, 0
	for _, s := range spans {
		for _, txt := range spanTexts(s) {
			texts++
			if hit, ok := containsAny(txt, secrets); ok {
				hits++
				t.Errorf("span %s carries %q in %q", s.Name(), hit, txt)
			}
		}
		// Namespace and service are argument text too; log, for the doc.
		for _, txt := range spanTexts(s) {
			if strings.Contains(txt, ns) {
				t.Logf("note: span %s carries the namespace in %q", s.Name(), txt)
				break
			}
		}
	}
	rm := tel.collect(t)
	for _, p := range points(rm) {
		for _, kv := range p.attrs.ToSlice() {
			texts++
			if hit, ok := containsAny(kv.Value.Emit(), append(secrets, ns, svc)); ok {
				hits++
				t.Errorf("metric %s label %s carries %q", p.metric, kv.Key, hit)
			}
		}
		if hit, ok := containsAny(p.metric, secrets); ok {
			hits++
			t.Errorf("metric name %s carries %q", p.metric, hit)
		}
	}
	t.Logf("scanned %d spans (%d of them Redis command spans), %d series, %d texts for %d secrets: %d found", len(spans), commandSpans, len(points(rm)), texts, len(secrets), hits)
}
