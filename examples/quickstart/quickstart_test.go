package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statefulroute/sfotel/internal/contract"
	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/report"
)

// noEnv stands in for os.Getenv, so REDIS_ADDR or OTEL_EXPORTER_OTLP_ENDPOINT
// in the test's environment never changes what a test runs against.
func noEnv(string) string { return "" }

// syncBuffer is an io.Writer the run and the test may use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func mustParse(t *testing.T, args ...string) config {
	t.Helper()
	cfg, err := parseFlags(args, noEnv, io.Discard)
	if err != nil {
		t.Fatalf("parseFlags(%q): %v", args, err)
	}
	return cfg
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s: %.300s", url, resp.Status, body)
	}
	return string(body)
}

// runAndProbe runs the quickstart for about two seconds and, while it runs,
// reads /metrics, /debug/report and /debug/pprof/. It returns the final JSON
// report and what the run printed.
func runAndProbe(t *testing.T, extra ...string) (*report.Report, string) {
	t.Helper()
	reportPath := filepath.Join(t.TempDir(), "report.json")
	args := append([]string{"-duration", "2s", "-listen", "127.0.0.1:0", "-workers", "4", "-users", "40", "-pods", "4",
		"-progress", "500ms", "-report", "json", "-report-out", reportPath}, extra...)
	cfg := mustParse(t, args...)

	probed := make(chan struct{})
	cfg.onListen = func(addr string) {
		go func() {
			defer close(probed)
			base := "http://" + addr
			// Let some operations happen first.
			time.Sleep(700 * time.Millisecond)
			metrics := get(t, base+"/metrics")
			for _, name := range []string{"stateful_executor_operations_total", "stateful_executor_operation_duration_seconds_bucket", "stateful_executor_redis_connection_status"} {
				if !strings.Contains(metrics, name) {
					t.Errorf("/metrics during the run has no %s:\n%.2000s", name, metrics)
				}
			}
			var live report.Report
			if err := json.Unmarshal([]byte(get(t, base+"/debug/report?format=json")), &live); err != nil {
				t.Errorf("/debug/report?format=json: %v", err)
			} else if live.Operation(contract.OpComputeLinkedPod.String()) == nil {
				t.Errorf("/debug/report during the run has no %s row: %+v", contract.OpComputeLinkedPod.String(), live.Operations)
			}
			if idx := get(t, base+"/debug/pprof/"); !strings.Contains(idx, "goroutine") {
				t.Errorf("/debug/pprof/ does not list profiles: %.300s", idx)
			}
		}()
	}
	var out syncBuffer
	if err := run(context.Background(), cfg, &out, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	select {
	case <-probed:
	case <-time.After(10 * time.Second):
		t.Fatal("the HTTP probes did not finish")
	}

	b, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatalf("final report: %v", err)
	}
	var final report.Report
	if err := json.Unmarshal(b, &final); err != nil {
		t.Fatalf("final report: %v\n%s", err, b)
	}
	return &final, out.String()
}

// checkHealthyRun: many calls, the simulation's operations all present, no
// errors, and the progress and summary lines printed.
func checkHealthyRun(t *testing.T, final *report.Report, out string) {
	t.Helper()
	var total uint64
	for _, op := range final.Operations {
		total += op.Count
		if op.Errors != 0 {
			t.Errorf("%s: %d errors %v; the simulation expects none", op.Name, op.Errors, op.ErrorsByType)
		}
	}
	if total < 100 {
		t.Errorf("only %d calls in 2 s; output:\n%s", total, out)
	}
	for _, name := range []string{contract.OpSetServiceState.String(), contract.OpSetWorkloadState.String(), contract.OpComputeLinkedPod.String(), contract.OpGetLinkedPod.String()} {
		if op := final.Operation(name); op == nil || op.Count == 0 {
			t.Errorf("no %s calls in the final report", name)
		}
	}
	for _, want := range []string{"ops/s", "done:", " 0 errors", " 0 routing inconsistencies"} {
		if !strings.Contains(out, want) {
			t.Errorf("output has no %q:\n%s", want, out)
		}
	}
}

func TestRunRealRedis(t *testing.T) {
	addr := redistest.Addr(t)
	ns := redistest.Namespace(t)
	final, out := runAndProbe(t, "-redis", addr, "-namespace", ns)
	checkHealthyRun(t, final, out)
	if !strings.Contains(out, "on Redis at "+addr) {
		t.Errorf("output does not name the Redis it ran on:\n%s", out)
	}
	// The run deletes its keys at exit.
	keys, err := redistest.Keys(context.Background(), redistest.Client(t), ns)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("%d keys of namespace %s left after the run, e.g. %s", len(keys), ns, keys[0])
	}
}

func TestRunEmbeddedRedis(t *testing.T) {
	final, out := runAndProbe(t, "-command-spans")
	checkHealthyRun(t, final, out)
	if !strings.Contains(out, "embedded miniredis") {
		t.Errorf("output does not say it used the embedded Redis:\n%s", out)
	}
}

func TestRunUnreachableRedis(t *testing.T) {
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg := mustParse(t, "-redis", addr, "-listen", "")
	start := time.Now()
	err = run(context.Background(), cfg, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("run against nothing at %s: %v; want an error saying it is unreachable", addr, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to give up", d)
	}
}

// TestLingerEndsOnSignal: after the final report the run keeps serving
// /metrics until the linger period or a signal (ctx) ends it.
func TestLingerEndsOnSignal(t *testing.T) {
	reportPath := filepath.Join(t.TempDir(), "report.json")
	cfg := mustParse(t, "-redis", redistest.Addr(t), "-namespace", redistest.Namespace(t),
		"-duration", "500ms", "-linger", "1m", "-listen", "127.0.0.1:0", "-workers", "2", "-users", "50",
		"-report", "text", "-report-out", reportPath)
	var addr string
	listening := make(chan struct{})
	cfg.onListen = func(a string) { addr = a; close(listening) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, io.Discard, io.Discard) }()
	<-listening

	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(reportPath); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no report within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The workload is over; /metrics still answers, twice with equal counts.
	first, second := get(t, "http://"+addr+"/metrics"), get(t, "http://"+addr+"/metrics")
	if c1, c2 := operationLines(first), operationLines(second); c1 == "" || c1 != c2 {
		t.Errorf("operation counters during linger changed or are missing:\n%s\n---\n%s", c1, c2)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after the signal")
	}
}

func operationLines(metrics string) string {
	var lines []string
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, "stateful_executor_operations_total{") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

func TestParseFlagsDefaults(t *testing.T) {
	env := map[string]string{"REDIS_ADDR": "10.0.0.1:6379", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
	cfg, err := parseFlags(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.redisAddrs) != 1 || cfg.redisAddrs[0] != "10.0.0.1:6379" {
		t.Errorf("redis from REDIS_ADDR: %v", cfg.redisAddrs)
	}
	if cfg.otlpEndpoint != "http://127.0.0.1:4318" {
		t.Errorf("otlp from OTEL_EXPORTER_OTLP_ENDPOINT: %q", cfg.otlpEndpoint)
	}
	if cfg.duration != 15*time.Second || cfg.listen != "127.0.0.1:9464" || cfg.reportFormat != "text" {
		t.Errorf("defaults: duration %v, listen %q, report %q", cfg.duration, cfg.listen, cfg.reportFormat)
	}
	cfg = mustParse(t, "-redis", "a:1, b:2", "-otlp", "")
	if len(cfg.redisAddrs) != 2 || cfg.redisAddrs[1] != "b:2" || cfg.otlpEndpoint != "" {
		t.Errorf("-redis a:1,b:2 -otlp '': %v %q", cfg.redisAddrs, cfg.otlpEndpoint)
	}
}

func TestParseFlagsRejects(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string // the error must name it
	}{
		{[]string{"-redis", "localhost"}, "-redis"},
		{[]string{"-duration", "-1s"}, "-duration"},
		{[]string{"-linger", "-1s"}, "-linger"},
		{[]string{"-workers", "0"}, "-workers"},
		{[]string{"-users", "0"}, "-users"},
		{[]string{"-users", "3", "-workers", "4"}, "-users"},
		{[]string{"-pods", "0"}, "-pods"},
		{[]string{"-listen", "9464"}, "-listen"},
		{[]string{"-report", "xml"}, "-report"},
		{[]string{"-namespace", "a:b"}, "-namespace"},
		{[]string{"-namespace", "{x}"}, "-namespace"},
		{[]string{"-progress", "-1s"}, "-progress"},
		{[]string{"-workers", "many"}, "-workers"},
		{[]string{"extra"}, "extra"},
	} {
		_, err := parseFlags(tc.args, noEnv, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("parseFlags(%q) = %v; want an error naming %s", tc.args, err, tc.flag)
		}
	}
}
