package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/statefulroute/sfotel/internal/contract"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// goldenEnd and goldenStart pin the window: the SDK stamps data points with
// the real start time, so the test passes its own.
var (
	goldenEnd   = time.Date(2026, 11, 25, 18, 30, 0, 0, time.UTC)
	goldenStart = goldenEnd.Add(-time.Minute)
)

// goldenReport is a one-minute load test with known values that fires most
// rules: a slow tail, failing calls, bad input, a busy pool, a flushed
// script cache and many single lookups.
func goldenReport(t testing.TB) *Report { return goldenSnapshot(t).Report() }

// goldenSnapshot is the snapshot behind goldenReport.
func goldenSnapshot(t testing.TB) *Snapshot {
	t.Helper()
	rt := &fakeRuntime{os: osRunQueue{ok: true}}
	f := newFixture(t, WithClock(func() time.Time { return goldenEnd }), WithWarmup(0), withRuntime(rt.read), WithTraceURLTemplate(JaegerTraceURLTemplate))
	rt.add(&rt.sched, 60000, 12e-6)
	rt.add(&rt.sched, 600, 0.0004)
	rt.add(&rt.gc, 40, 0.00015)
	rt.os = osRunQueue{waitSeconds: 0.42, timeslices: 51000, ok: true}
	for i := range 12000 {
		f.call(contract.OpGetLinkedPod.String(), 0.0002+float64(i%20)*0.00001, "")
	}
	for i := range 3000 {
		f.call(contract.OpSetLinkedPod.String(), 0.0004+float64(i%10)*0.00002, "")
	}
	for range 60 {
		f.call(contract.OpSetLinkedPod.String(), 0.25, contract.ErrorTimeout.String())
	}
	for range 15 {
		f.call(contract.OpSetLinkedPod.String(), 0.0008, contract.ErrorConnection.String())
	}
	for i := range 1200 {
		f.call(contract.OpComputeLinkedPod.String(), 0.0009+float64(i%4)*0.0001, "")
	}
	for range 30 {
		f.call(contract.OpComputeLinkedPod.String(), 0.045, "")
	}
	for range 600 {
		f.call(contract.OpGetLinkService.String(), 0.0003, "")
	}
	for range 6 {
		f.call(contract.OpGetLinkService.String(), 0.00002, contract.ErrorInvalidArgument.String())
	}
	f.calls(contract.OpBatchGetLinkedPod.String(), 20, 0.0015)
	f.pool(46, 2, 50, 310, 0, 0.84, semconv.DBClientConnectionPoolName("127.0.0.1:6379"))
	f.pool(0, 0, 10, 0, 0, 0, semconv.DBClientConnectionPoolName("127.0.0.1:6379/pipeline"))
	f.count(contract.MetricScriptCacheHits, 4195)
	f.count(contract.MetricScriptCacheMisses, 5)
	f.count(contract.MetricScriptCacheReloads, 5)
	f.clientStatus("127.0.0.1:6379", true)
	f.commands(map[string]int{"EVALSHA": 4275, "GET": 13200, "": 20}, 0.00018)
	for i := range 60 {
		f.pings(1, 0.00015+float64(i%3)*0.00001)
	}
	f.pings(1, 0.0004)
	s := f.take()
	s.start = goldenStart
	return s
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output; if the change is intended, run go test ./report -update\n--- got\n%s", path, got)
	}
}

func TestGoldenJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := goldenReport(t).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "report.json.golden", buf.Bytes())
}

func TestGoldenText(t *testing.T) {
	var buf bytes.Buffer
	if err := goldenReport(t).WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "report.txt.golden", buf.Bytes())
}
