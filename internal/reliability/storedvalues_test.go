package reliability

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/otelexec"
	"github.com/statefulroute/sfotel/redisinstr"
)

// lockedLog collects log output from concurrent writers.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestHostileStoredValuesNeverReachTelemetry: another writer stored e-mail
// addresses where sfotel keeps pod IDs and states: as a link value (the
// link key and the user's hash field), as a pod state field and as a pod
// state. Every operation that reads them passes over them (none fails) and
// counts them, and no span attribute, status message or event, no metric
// label and no log line carries the stored value, a uid or a key. (Before,
// "… is not a pod ID" errors put the value in the status of five
// operations' spans.) The client's Redis command spans are on too.
func TestHostileStoredValuesNeverReachTelemetry(t *testing.T) {
	rdb := redistest.Client(t)
	tel := newTelemetry(t)
	inst, err := redisinstr.Instrument(rdb, redisinstr.WithMeterProvider(tel.mp), redisinstr.WithTracerProvider(tel.tp),
		redisinstr.WithCommandSpans(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	logs := &lockedLog{}
	e := startExecutor(t, rdb, tel.options(otelexec.WithRedisCommandSpans(true), otelexec.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))...)
	t.Cleanup(func() { _ = e.Close() })
	ns := redistest.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const svc = "game"
	const (
		linkValue  = "mallory.link@example.com"
		fieldValue = "mallory.field@example.com"
		stateField = "mallory.pod@example.com"
		stateValue = "mallory.state@example.com"
	)
	uids := []string{"bob.one@example.org", "bob.two@example.org", "carol@example.org"}
	secrets := []string{linkValue, fieldValue, stateField, stateValue, "example.org", "example.com", stateKey(ns, svc)}
	for _, uid := range uids {
		secrets = append(secrets, uid, linkHashKey(ns, uid), linkKey(ns, uid, svc))
	}
	plant := func() {
		t.Helper()
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(rdb.Set(ctx, linkKey(ns, uids[0], svc), linkValue, 0).Err())
		must(rdb.HSet(ctx, linkHashKey(ns, uids[1]), svc, fieldValue).Err())
		must(rdb.Set(ctx, linkKey(ns, uids[1], svc), linkValue, 0).Err())
		must(rdb.HSet(ctx, stateKey(ns, svc), stateField, otelexec.FormatPodState(0, time.Now())).Err())
		must(rdb.HSet(ctx, stateKey(ns, svc), "3", stateValue).Err())
		must(rdb.HSet(ctx, stateKey(ns, svc), "4", otelexec.FormatPodState(2, time.Now())).Err())
	}
	plant()
	ok := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s over hostile stored values: %v", what, err)
		}
	}
	_, err = e.GetServiceState(ctx, ns, svc)
	ok("GetServiceState", err)
	for _, uid := range uids {
		_, err = e.GetLinkedPod(ctx, ns, uid, svc)
		ok("GetLinkedPod", err)
		_, err = e.GetLinkedPodIfPersist(ctx, ns, uid, svc)
		ok("GetLinkedPodIfPersist", err)
		_, err = e.GetLinkService(ctx, ns, uid)
		ok("GetLinkService", err)
	}
	_, err = e.BatchGetLinkedPod(ctx, ns, uids, svc)
	ok("BatchGetLinkedPod", err)
	writes := []struct {
		name string
		call func(uid string) error
	}{
		{"ComputeLinkedPod", func(uid string) error {
			_, err := e.ComputeLinkedPod(ctx, ns, uid, svc, time.Minute, -1)
			return err
		}},
		{"SetLinkedPodIfAbsent", func(uid string) error { _, err := e.SetLinkedPodIfAbsent(ctx, ns, uid, svc, 4, -1); return err }},
		{"TrySetLinkedPod", func(uid string) error { _, _, err := e.TrySetLinkedPod(ctx, ns, uid, svc, 4, 60); return err }},
		{"SetLinkedPod", func(uid string) error { _, err := e.SetLinkedPod(ctx, ns, uid, svc, 4, -1); return err }},
		{"RemoveLinkedPod", func(uid string) error { _, err := e.RemoveLinkedPod(ctx, ns, uid, svc, 30); return err }},
		{"RemoveLinkedPodWithID", func(uid string) error { _, err := e.RemoveLinkedPodWithID(ctx, ns, uid, svc, 4, 30); return err }},
	}
	for _, w := range writes {
		for _, uid := range uids[:2] {
			plant() // each write replaces or clears what it skipped
			ok(w.name, w.call(uid))
		}
	}

	rm := tel.collect(t)
	for _, kind := range []contract.SkipKind{contract.SkipStateField, contract.SkipStateValue, contract.SkipLinkValue} {
		if n := sumWhere(rm, contract.MetricStoredSkipped, attribute.String(contract.AttrKind, kind.String())); n == 0 {
			t.Errorf("no %s skip counted: the hostile values were never read", kind)
		}
	}
	spans := tel.spans.Ended()
	texts, hits, events := 0, 0, 0
	for _, s := range spans {
		for _, ev := range s.Events() {
			if ev.Name == "sfotel.stored_value.skipped" {
				events++
			}
		}
		for _, txt := range spanTexts(s) {
			texts++
			if hit, found := containsAny(txt, secrets); found {
				hits++
				t.Errorf("span %s carries %q in %q", s.Name(), hit, txt)
			}
		}
	}
	if events == 0 {
		t.Error("no span has a sfotel.stored_value.skipped event")
	}
	for _, p := range points(rm) {
		for _, kv := range p.attrs.ToSlice() {
			texts++
			if hit, found := containsAny(kv.Value.Emit(), secrets); found {
				hits++
				t.Errorf("metric %s label %s carries %q", p.metric, kv.Key, hit)
			}
		}
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	skipLines := 0
	for _, l := range lines {
		texts++
		if strings.Contains(l, "skipped stored data") {
			skipLines++
		}
		if hit, found := containsAny(l, secrets); found {
			hits++
			t.Errorf("log line carries %q: %s", hit, l)
		}
	}
	if skipLines < 3 {
		t.Errorf("%d log lines about skipped data, want one per (namespace, service, kind), at least 3:\n%s", skipLines, logs)
	}
	t.Logf("%d spans (%d skip events), %d series, %d log lines: %d texts scanned for %d secrets, %d found",
		len(spans), events, len(points(rm)), len(lines), texts, len(secrets), hits)
}
