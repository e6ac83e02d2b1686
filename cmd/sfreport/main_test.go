package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/report"
)

var fixedNow = func() time.Time { return time.Date(2026, 11, 25, 18, 30, 0, 0, time.UTC) }

func TestParse(t *testing.T) {
	o, err := parse([]string{"-prometheus", "http://prom:9090", "-selector", `job="router"`, "-since", "5m", "-format", "JSON"}, &bytes.Buffer{}, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if o.query.Prometheus != "http://prom:9090" || o.query.Selector != `job="router"` || o.format != report.FormatJSON ||
		!o.query.End.Equal(fixedNow()) || !o.query.Start.Equal(fixedNow().Add(-5*time.Minute)) {
		t.Fatalf("%+v", o)
	}
	o, err = parse([]string{"-start", "2026-11-25T18:00:00Z", "-end", "2026-11-25T18:10:00Z"}, &bytes.Buffer{}, fixedNow)
	if err != nil || o.query.End.Sub(o.query.Start) != 10*time.Minute {
		t.Fatalf("%+v %v", o, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-format", "yaml"}, `-format: unknown value "yaml"`},
		{[]string{"-since", "-1m"}, "-since: must be > 0"},
		{[]string{"-start", "yesterday"}, "-start: parsing time"},
		{[]string{"-end", "now"}, "-end: parsing time"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), c.args, &bytes.Buffer{}, &stderr, fixedNow); code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"-no-such-flag"}, &bytes.Buffer{}, &stderr, fixedNow); code != 2 || !strings.Contains(stderr.String(), "usage: sfreport") {
		t.Fatalf("unknown flag: exit %d, %q", code, stderr.String())
	}
	// Invalid values of the rules' options are the report package's errors.
	if code := run(context.Background(), []string{"-tail-ratio", "1"}, &bytes.Buffer{}, &stderr, fixedNow); code != 1 || !strings.Contains(stderr.String(), "WithTailRatioThreshold") {
		t.Fatalf("-tail-ratio 1: exit %d, %q", code, stderr.String())
	}
}

func TestRunAgainstARealPrometheus(t *testing.T) {
	base := startPrometheus(t)
	// Prometheus scrapes itself: no sfotel series, an empty report.
	dir := t.TempDir()
	out := filepath.Join(dir, "fleet.json")
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"-prometheus", base, "-since", "1m", "-format", "json", "-o", out}, &stdout, &stderr, time.Now); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var r report.Report
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Source.Kind != report.SourcePrometheus || r.Source.Prometheus != base || r.Window.Seconds != 60 || len(r.Operations) != 0 {
		t.Fatalf("report %+v", r)
	}
	stdout.Reset()
	if code := run(t.Context(), []string{"-prometheus", base, "-since", "1m"}, &stdout, &stderr, time.Now); code != 0 || !strings.Contains(stdout.String(), "no operations recorded") {
		t.Fatalf("text: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	// A selector Prometheus cannot parse: exit 1 with its error.
	stderr.Reset()
	if code := run(t.Context(), []string{"-prometheus", base, "-selector", `job=~"(`}, &stdout, &stderr, time.Now); code != 1 || !strings.Contains(stderr.String(), "bad_data") {
		t.Fatalf("bad selector: exit %d, %q", code, stderr.String())
	}
}

// startPrometheus runs the real Prometheus scraping itself and returns its
// URL; it is stopped by its PID when the test ends. CI (REDIS_REQUIRED=1)
// installs it, so there a missing binary is a failure.
func startPrometheus(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if redistest.Required() {
			t.Fatal("prometheus not found and REDIS_REQUIRED=1: install Debian's prometheus package")
		}
		t.Skip("prometheus not installed (apt-get install prometheus); set REDIS_REQUIRED=1 to make this a failure")
	}
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	dir := t.TempDir()
	config := "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: [\"" + addr + "\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--web.listen-address="+addr, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return "http://" + addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready within 30s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runTimed runs the command and returns its exit code, how long it took
// and its standard error.
func runTimed(t *testing.T, args ...string) (int, time.Duration, string, []byte) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(t.Context(), args, &stdout, &stderr, time.Now)
	return code, time.Since(start), stderr.String(), stdout.Bytes()
}

// TestTimeoutAgainstATricklingServer: a server that answers 200 and then a
// byte every 100 ms ends the command at -timeout, with one line.
func TestTimeoutAgainstATricklingServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		for {
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}))
	defer srv.Close()
	code, took, stderr, _ := runTimed(t, "-prometheus", srv.URL, "-timeout", "1s")
	if code != 1 || took > 3*time.Second {
		t.Errorf("exit %d after %v, want 1 within 3s", code, took)
	}
	if want := "sfreport: no report from " + srv.URL + " within -timeout 1s\n"; stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
}

// TestUnreachablePrometheus: a refused connection fails the first query,
// which stops the others: one line, at once.
func TestUnreachablePrometheus(t *testing.T) {
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	code, took, stderr, _ := runTimed(t, "-prometheus", "http://127.0.0.1:"+strconv.Itoa(port))
	if code != 1 || took > 2*time.Second {
		t.Errorf("exit %d after %v, want 1 within 2s", code, took)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "connection refused") {
		t.Errorf("stderr %q, want one line saying the connection was refused", stderr)
	}
}

func TestHelpExitsZero(t *testing.T) {
	code, _, stderr, _ := runTimed(t, "-h")
	if code != 0 || !strings.Contains(stderr, "-timeout") {
		t.Errorf("-h: exit %d, %q", code, stderr)
	}
}

// TestNaNSamplesStillWriteTheReport: a server whose every series is NaN:
// the JSON report is written, and the series left out are warnings on
// standard error.
func TestNaNSamplesStillWriteTheReport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		result := ""
		if strings.HasPrefix(r.FormValue("query"), "last_over_time(") {
			result = `{"metric":{"instance":"a:1","operation":"GetLinkedPod"},"value":[1700000000,"NaN"]}`
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[%s]}}`, result)
	}))
	defer srv.Close()
	code, _, stderr, stdout := runTimed(t, "-prometheus", srv.URL, "-format", "json")
	var r report.Report
	if code != 0 || json.Unmarshal(stdout, &r) != nil || len(r.Warnings) == 0 {
		t.Fatalf("exit %d, %d warnings, stdout %.200q, stderr %q", code, len(r.Warnings), stdout, stderr)
	}
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != len(r.Warnings) || !strings.HasPrefix(lines[0], "sfreport: warning: left out ") {
		t.Errorf("stderr %q, want the %d warnings", stderr, len(r.Warnings))
	}
}
