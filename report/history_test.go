package report

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/statefulroute/sfotel/internal/contract"
)

// historyFixture is a fixture whose history the test drives: a snapshot
// every 5s of its fake clock, kept for a minute.
func historyFixture(t *testing.T, clock *fakeClock, opts ...Option) *fixture {
	t.Helper()
	return newFixture(t, append([]Option{WithClock(clock.now), WithHistory(5*time.Second, time.Minute), withManualHistory()}, opts...)...)
}

func (f *fixture) record() {
	f.t.Helper()
	if err := f.c.record(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

func TestWindowFromHistory(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	f := historyFixture(t, clock)
	f.calls(contract.OpGetLinkedPod.String(), 100, 0.001)
	clock.advance(5 * time.Second)
	f.record() // t+5s
	f.calls(contract.OpGetLinkedPod.String(), 100, 0.008)
	clock.advance(5 * time.Second)
	f.record() // t+10s
	f.calls(contract.OpGetLinkedPod.String(), 40, 0.020)
	for range 10 {
		f.call(contract.OpGetLinkedPod.String(), 0.020, contract.ErrorTimeout.String())
	}
	clock.advance(5 * time.Second) // now t+15s

	r, err := f.c.Window(t.Context(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.Window.Seconds != 10 || r.Window.RequestedSeconds != 10 || !r.Window.End.Equal(clock.t.UTC()) {
		t.Fatalf("window %+v, want the last 10s", r.Window)
	}
	op := r.Operation(contract.OpGetLinkedPod.String())
	if op.Count != 150 || op.Errors != 10 {
		t.Fatalf("the last 10s: %+v, want 150 calls and 10 errors", op)
	}
	// The history keeps buckets of 4.4%: quantiles within one of them.
	if relErr(op.P50Seconds, 0.008) > 0.045 || relErr(op.P99Seconds, 0.020) > 0.045 {
		t.Fatalf("p50 %v p99 %v, want about 8ms and 20ms", op.P50Seconds, op.P99Seconds)
	}
	tl := r.Timeline
	if tl == nil || tl.IntervalSeconds != 5 || len(tl.Operations) != 1 {
		t.Fatalf("timeline %+v", tl)
	}
	pts := tl.Operations[0].Points
	if len(pts) != 2 {
		t.Fatalf("%d points, want one per interval of the window: %+v", len(pts), pts)
	}
	if pts[0].OpsPerSec != 20 || pts[0].ErrorRate != 0 || relErr(pts[0].P99Seconds, 0.008) > 0.045 {
		t.Fatalf("first interval %+v, want 20 calls/s at 8ms", pts[0])
	}
	if pts[1].OpsPerSec != 10 || pts[1].ErrorRate != 0.2 || relErr(pts[1].P99Seconds, 0.020) > 0.045 {
		t.Fatalf("second interval %+v, want 10 calls/s, 20%% errors, 20ms", pts[1])
	}
	if !pts[1].End.Equal(clock.t.UTC()) {
		t.Fatalf("last point ends %v, want now", pts[1].End)
	}

	// Since start: all 250 calls; the timeline covers the whole history.
	all, err := f.c.Window(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if op := all.Operation(contract.OpGetLinkedPod.String()); op.Count != 250 || all.Window.RequestedSeconds != 0 {
		t.Fatalf("since start: %+v, window %+v", op, all.Window)
	}
	// A window that reaches before the data began is since start.
	long, err := f.c.Window(t.Context(), 50*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if op := long.Operation(contract.OpGetLinkedPod.String()); op.Count != 250 || long.Window.RequestedSeconds != 50 || long.Window.Seconds >= 50 {
		t.Fatalf("a window longer than the data: %+v, window %+v", op, long.Window)
	}
	if _, err := f.c.Window(t.Context(), -time.Second); err == nil || !strings.Contains(err.Error(), "Window: d must be ≥ 0") {
		t.Fatalf("negative window: %v", err)
	}
	// Delta stays pure: the window report did not change the snapshots.
	if again, _ := f.c.Window(t.Context(), 10*time.Second); again.Operation(contract.OpGetLinkedPod.String()).Count != 150 {
		t.Fatal("a second window report differs")
	}
}

func TestHistoryIsBounded(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	f := historyFixture(t, clock)
	for range 20 {
		f.calls(contract.OpGetLinkedPod.String(), 10, 0.001)
		clock.advance(5 * time.Second)
		f.record()
	}
	if n := len(f.c.history.entries); n != 13 {
		t.Fatalf("%d snapshots kept, want a minute of 5s ones: 13", n)
	}
	if first := f.c.history.entries[0].end; !first.Equal(clock.t.Add(-time.Minute)) {
		t.Fatalf("oldest snapshot at %v, want a minute ago (%v)", first, clock.t.Add(-time.Minute))
	}
	// A window of the whole span reaches the oldest kept snapshot.
	r, err := f.c.Window(t.Context(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if r.Window.Seconds != 60 || r.Operation(contract.OpGetLinkedPod.String()).Count != 120 {
		t.Fatalf("window %+v count %d, want 60s and 120 calls", r.Window, r.Operation(contract.OpGetLinkedPod.String()).Count)
	}

	// The byte budget drops the oldest first and says so in the window.
	f.c.history.maxBytes = 3 * f.c.history.entries[0].size
	f.record()
	if n := len(f.c.history.entries); n > 3 {
		t.Fatalf("%d snapshots kept within %d bytes", n, f.c.history.maxBytes)
	}
	r, err = f.c.Window(t.Context(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if r.Window.Seconds >= 60 || r.Window.RequestedSeconds != 60 {
		t.Fatalf("window %+v: want less than the 60s asked for", r.Window)
	}
}

func TestHistorySnapshotSize(t *testing.T) {
	// The golden report's data: 5 operations, a few commands, pools. Its
	// size shows what one kept snapshot costs (docs/report.md).
	r := goldenSnapshot(t)
	full := r.raw.sizeBytes()
	kept := r.raw.coarsened(historyScale).sizeBytes()
	t.Logf("golden snapshot: %d bytes, %d kept in the history", full, kept)
	if kept > full || kept == 0 {
		t.Fatalf("kept %d bytes of %d", kept, full)
	}
	if n := HistoryMaxBytes / kept; n < 121 {
		t.Fatalf("HistoryMaxBytes holds %d such snapshots, fewer than the default 10 minutes of 5s ones", n)
	}
}

func TestHandlerWindowAndRefresh(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	f := historyFixture(t, clock)
	f.calls(contract.OpGetLinkedPod.String(), 100, 0.001)
	clock.advance(5 * time.Second)
	f.record()
	f.calls(contract.OpGetLinkedPod.String(), 30, 0.002)
	clock.advance(5 * time.Second)
	h := Handler(f.c)
	get := func(query string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/report"+query, nil))
		return rec
	}
	rec := get("?window=5s")
	var r Report
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || rec.Code != 200 {
		t.Fatalf("%d %v %s", rec.Code, err, rec.Body)
	}
	if r.Window.RequestedSeconds != 5 || r.Operations[0].Count != 30 || r.Timeline == nil {
		t.Fatalf("?window=5s: window %+v operations %+v timeline %v", r.Window, r.Operations, r.Timeline)
	}
	for query, want := range map[string]string{
		"?window=soon":   `report: window: "soon" is not a duration`,
		"?window=2m":     "report: window: must be from 1ns to 1m0s, got 2m0s",
		"?window=-5s":    "report: window: must be from",
		"?refresh=100ms": "report: refresh: must be from 1s to 24h0m0s, got 100ms",
	} {
		if rec := get(query); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%s: %d %q, want 400 %q", query, rec.Code, rec.Body.String(), want)
		}
	}
	page := get("?format=html&refresh=5s&window=1m").Body.String()
	for _, want := range []string{`<meta http-equiv="refresh" content="5">`, `href="?format=html&amp;refresh=5s"`, `<b>1m</b>`, `class="timeline-chart"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if static := get("?format=html").Body.String(); strings.Contains(static, "http-equiv") {
		t.Error("a page asked without refresh refreshes")
	}

	// A collector without history refuses ?window= and names the option.
	g := newFixture(t, WithHistory(time.Second, 0))
	rec = httptest.NewRecorder()
	Handler(g.c).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/report?window=1m", nil))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "keeps no history (WithHistory)") {
		t.Fatalf("no history: %d %q", rec.Code, rec.Body.String())
	}
}

func TestHistoryTicksInTheBackgroundUntilShutdown(t *testing.T) {
	f := newFixture(t, WithHistory(100*time.Millisecond, time.Second))
	f.calls(contract.OpGetLinkedPod.String(), 10, 0.001)
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.c.mu.Lock()
		n := len(f.c.history.entries)
		f.c.mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d background snapshots after 5s at 100ms", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := f.mp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a tick that was due ends the timer
	f.c.mu.Lock()
	n := len(f.c.history.entries)
	f.c.mu.Unlock()
	time.Sleep(300 * time.Millisecond)
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if len(f.c.history.entries) != n {
		t.Fatalf("snapshots went on after the MeterProvider shut down: %d, then %d", n, len(f.c.history.entries))
	}
}

// timelineReport is a report with a minute of history over three
// operations, with sampled traces: what the handler's page shows.
func timelineReport(t testing.TB) *Report {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	clock := &fakeClock{t: time.Now()}
	f := newFixture(t, WithClock(clock.now), WithHistory(5*time.Second, time.Minute), withManualHistory(), WithTraceURLTemplate(JaegerTraceURLTemplate))
	for i := range 12 {
		for j, op := range []string{contract.OpGetLinkedPod.String(), contract.OpSetLinkedPod.String(), contract.OpComputeLinkedPod.String()} {
			n := 100 + 40*j + 10*(i%4)
			f.calls(op, n, 0.0003*float64(j+1)*(1+float64(i%3)))
			if i%5 == j {
				f.call(op, 0.004, contract.ErrorTimeout.String())
			}
		}
		clock.advance(5 * time.Second)
		f.record()
	}
	for _, s := range []float64{0.012, 0.009, 0.007} {
		f.tracedCall(tp, contract.OpGetLinkedPod.String(), s)
	}
	r, err := f.c.Window(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestWindowListsItsOwnSlowestCalls: a burst of slow traced calls, then a
// quiet window of fast ones. The window's report lists the fast calls, the
// slowest of its own window; the report since start still lists the burst.
func TestWindowListsItsOwnSlowestCalls(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	clock := &fakeClock{t: time.Now()}
	f := historyFixture(t, clock)
	op := contract.OpGetLinkedPod.String()
	for i := range 30 {
		f.tracedCall(tp, op, 0.5+0.01*float64(i))
	}
	time.Sleep(2 * time.Millisecond)
	clock.t = time.Now()
	f.record() // the burst's snapshot: the window starts here
	burstEnd := clock.t
	time.Sleep(2 * time.Millisecond)
	fast := map[string]bool{}
	for i := range 300 {
		fast[f.tracedCall(tp, op, 0.001+0.00001*float64(i%50)).SpanID().String()] = true
	}
	clock.t = time.Now()

	r, err := f.c.Window(t.Context(), clock.t.Sub(burstEnd))
	if err != nil {
		t.Fatal(err)
	}
	o := r.Operation(op)
	if o == nil || o.Count != 300 {
		t.Fatalf("window %+v: %+v, want the 300 fast calls", r.Window, o)
	}
	if len(o.SlowestCalls) != slowShown {
		t.Fatalf("window lists %d slowest calls, want %d: %+v", len(o.SlowestCalls), slowShown, o.SlowestCalls)
	}
	for i, c := range o.SlowestCalls {
		if !fast[c.SpanID] || c.Time.Before(burstEnd) {
			t.Errorf("call %d %+v is not one of the window's", i, c)
		}
		if i > 0 && c.Seconds > o.SlowestCalls[i-1].Seconds {
			t.Errorf("not slowest first: %+v", o.SlowestCalls)
		}
	}
	if all := f.snapshot().Operation(op).SlowestCalls; len(all) != slowShown || all[0].Seconds < 0.5 {
		t.Fatalf("since start: %+v, want the burst's slowest", all)
	}
}
