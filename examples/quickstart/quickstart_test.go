package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
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

// openMetrics is the body of the last /metrics scrape runAndProbe made
// with an OpenMetrics Accept header, "" if it got the text format.
var openMetrics string

// getOpenMetrics scrapes url as Prometheus does, asking for OpenMetrics,
// and returns the body if OpenMetrics came back, else "".
func getOpenMetrics(t *testing.T, url string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/openmetrics-text") {
		return ""
	}
	return string(body)
}

// runAndProbe runs the quickstart for about two seconds and, while it runs,
// reads /metrics (in both formats), /debug/report and /debug/pprof/. It
// returns the final JSON report and what the run printed.
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
			openMetrics = getOpenMetrics(t, base+"/metrics")
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
	// Every call is sampled here, so the latency buckets carry exemplars
	// for a scraper that asks for OpenMetrics.
	if !exemplarLine.MatchString(openMetrics) {
		t.Errorf("/metrics as OpenMetrics has no exemplar on a latency bucket:\n%.3000s", openMetrics)
	}
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

// exemplarLine is a latency bucket with an exemplar: a trace ID and the
// measured value.
var exemplarLine = regexp.MustCompile(`(?m)^stateful_executor_operation_duration_seconds_bucket\{[^}]*\} \d+ # \{[^}]*trace_id="[0-9a-f]{32}"[^}]*\} [0-9.e-]+`)

func TestRunEmbeddedRedis(t *testing.T) {
	final, out := runAndProbe(t, "-command-spans", "-exemplars=false", "-pprof=true")
	checkHealthyRun(t, final, out)
	if openMetrics != "" {
		t.Errorf("-exemplars=false, yet /metrics answered OpenMetrics:\n%.1000s", openMetrics)
	}
	if !strings.Contains(out, "embedded miniredis") {
		t.Errorf("output does not say it used the embedded Redis:\n%s", out)
	}
}

// The embedded Redis serves pipelined batches, the default, and a run with
// -autopipeline=false, whose commands go directly, is as healthy.
func TestRunAutoPipelined(t *testing.T) {
	final, out := runAndProbe(t, "-autopipeline=false")
	checkHealthyRun(t, final, out)
	if cfg := mustParse(t, "-autopipeline=false"); cfg.autoPipeline {
		t.Error("-autopipeline=false did not turn the option off")
	}
	if cfg := mustParse(t); !cfg.autoPipeline {
		t.Error("autopipelining is not the default")
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
		{[]string{"-bearer-token-file", "/nonexistent/token"}, "-bearer-token-file"},
		{[]string{"-bearer-token-file", writeFile(t, "")}, "-bearer-token-file"},
		{[]string{"-bearer-token-file", writeFile(t, " \n\n")}, "-bearer-token-file"},
		{[]string{"-bearer-token-file", writeFile(t, "one\ntwo\n")}, "-bearer-token-file"},
		{[]string{"-bearer-token-file", writeFile(t, "s3\x01cret\n")}, "-bearer-token-file"},
		{[]string{"-bearer-token-file", writeFile(t, "s3cret\n"), "-listen", ""}, "-bearer-token-file"},
	} {
		_, err := parseFlags(tc.args, noEnv, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("parseFlags(%q) = %v; want an error naming %s", tc.args, err, tc.flag)
		}
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBearerTokenFile: a token file with the newline an editor leaves is
// trimmed (as Prometheus trims its credentials_file), and then every path,
// pprof included, asks for it.
func TestBearerTokenFile(t *testing.T) {
	cfg := mustParse(t, "-bearer-token-file", writeFile(t, "s3cret-token\n"), "-listen", "127.0.0.1:0")
	if cfg.bearerToken != "s3cret-token" {
		t.Fatalf("token %q", cfg.bearerToken)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	srv, err := startServer(serverConfig{listen: cfg.listen, metrics: ok, report: ok, pprof: true, bearerToken: cfg.bearerToken, timeouts: defaultTimeouts})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.shutdown(context.Background())
	for _, path := range []string{"/", "/metrics", "/debug/report", "/debug/pprof/", "/debug/pprof/cmdline"} {
		for _, auth := range []string{"", "Bearer wrong", "Bearer s3cret-token"} {
			req, _ := http.NewRequest(http.MethodGet, "http://"+srv.addr+path, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := http.StatusUnauthorized
			if auth == "Bearer s3cret-token" {
				want = http.StatusOK
			}
			if resp.StatusCode != want {
				t.Errorf("GET %s with %q: %s, want %d", path, auth, resp.Status, want)
			}
		}
	}
}

// TestPprofSwitch: -pprof=false serves no profiles.
func TestPprofSwitch(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	srv, err := startServer(serverConfig{listen: "127.0.0.1:0", metrics: ok, report: ok, pprof: false, timeouts: defaultTimeouts})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.shutdown(context.Background())
	resp, err := http.Get("http://" + srv.addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("-pprof=false: /debug/pprof/ answered %s", resp.Status)
	}
}

// TestIdleConnectionsAreClosed: keep-alive connections left idle are
// closed after the idle timeout (measured before: 50 idle connections
// stayed open for as long as their clients wanted), and a client that
// never finishes its request header is cut off too.
func TestIdleConnectionsAreClosed(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	timeouts := serverTimeouts{readHeader: 300 * time.Millisecond, read: time.Second, write: time.Second, idle: 300 * time.Millisecond}
	srv, err := startServer(serverConfig{listen: "127.0.0.1:0", metrics: ok, report: ok, timeouts: timeouts})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.shutdown(context.Background())

	const n = 50
	conns := make([]net.Conn, 0, n+1)
	for range n {
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// One keep-alive request, answered, then nothing.
		if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	slow, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	_, _ = io.WriteString(slow, "GET /metrics HTTP/1.1\r\nHost: x\r\n") // never ends its header
	conns = append(conns, slow)

	start := time.Now()
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		var err error
		for err == nil {
			_, err = c.Read(buf) // the response, if any, then the close
		}
		if !errors.Is(err, io.EOF) {
			t.Errorf("connection %d: %v, want the server to close it", i, err)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("idle connections closed after %v, want about %v", d, timeouts.idle)
	}
}
