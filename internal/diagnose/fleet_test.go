package diagnose

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statefulroute/sfotel/internal/redistest"
	"github.com/statefulroute/sfotel/report"
)

// prom is the real Prometheus of a full run, scraping each run's /metrics
// every second; runs name their target in a file_sd file, so one server
// serves the whole suite. nil: no fleet comparison.
type prom struct {
	url, targets string
	mu           sync.Mutex
}

// startProm starts Debian's prometheus on loopback, stopped by its PID when
// the test ends.
func startProm(t *testing.T) *prom {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus not found: apt-get install prometheus (the full form compares the fleet report)")
	}
	dir := t.TempDir()
	p := &prom{targets: filepath.Join(dir, "targets.json")}
	if err := os.WriteFile(p.targets, []byte("[]"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: diagnose\n    file_sd_configs:\n      - files: [" + strconv.Quote(p.targets) + "]\n        refresh_interval: 1s\n"
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--web.listen-address="+addr,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--log.level=warn")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	p.url = "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(p.url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("prometheus not ready within 30s")
		}
	}
}

// scrape serves h on loopback and makes it Prometheus's only target.
func (p *prom) scrape(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	target := strings.TrimPrefix(srv.URL, "http://")
	b, _ := json.Marshal([]map[string]any{{"targets": []string{target}}})
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := os.WriteFile(p.targets, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return target
}

// report is the fleet report of one target over start..end, once a scrape
// after end is in.
func (p *prom) report(t *testing.T, target string, start, end time.Time) *report.Report {
	time.Sleep(time.Until(end.Add(2500 * time.Millisecond)))
	r, err := report.FleetReport(context.Background(), report.FleetQuery{
		Prometheus: p.url, Selector: `instance="` + target + `"`, Start: start, End: end,
	})
	if err != nil {
		t.Errorf("fleet report: %v", err)
		return nil
	}
	return r
}
