package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/statefulroute/sfotel/internal/contract"
)

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func TestHTMLIsSelfContainedWithOneChartPerOperation(t *testing.T) {
	for name, r := range map[string]*Report{"golden": goldenReport(t), "timeline": timelineReport(t)} {
		t.Run(name, func(t *testing.T) { checkPage(t, r) })
	}
}

// checkPage parses the page of r: nothing loaded from elsewhere, a latency
// chart per operation, three timeline charts per operation of the
// timeline, a row per suggestion, every slow call linked to its trace.
func checkPage(t *testing.T, r *Report) {
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var charts []string
	var suggestionRows, bars, traceLinks int
	timelineCharts := map[string][]string{} // operation → metrics charted
	var lines int
	var walk func(*html.Node, bool)
	walk = func(n *html.Node, inSuggestions bool) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "link", "img", "iframe", "object", "embed":
				t.Errorf("<%s> in a self-contained page", n.Data)
			case "svg":
				if strings.Contains(attr(n, "class"), "latency-chart") {
					charts = append(charts, attr(n, "data-operation"))
				}
				if strings.Contains(attr(n, "class"), "timeline-chart") {
					op := attr(n, "data-operation")
					timelineCharts[op] = append(timelineCharts[op], attr(n, "data-metric"))
				}
			case "polyline":
				if pts := strings.Fields(attr(n, "points")); len(pts) >= 2 {
					lines++
				}
			case "a":
				// A link is followed by the reader, never loaded by the page.
				if strings.Contains(attr(n, "href"), "/trace/") {
					traceLinks++
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c, inSuggestions)
				}
				return
			case "rect":
				bars++
			case "table":
				inSuggestions = attr(n, "id") == "suggestions"
			case "tr":
				if inSuggestions && n.Parent != nil && n.Parent.Data == "tbody" {
					suggestionRows++
				}
			}
			for _, a := range n.Attr {
				if a.Key == "xmlns" { // a namespace name, never fetched
					continue
				}
				if strings.Contains(a.Val, "://") || strings.HasPrefix(a.Val, "//") {
					t.Errorf("<%s %s=%q> refers to another resource", n.Data, a.Key, a.Val)
				}
			}
		}
		if n.Type == html.TextNode && n.Parent != nil && n.Parent.Data == "style" {
			if strings.Contains(n.Data, "url(") || strings.Contains(n.Data, "@import") {
				t.Error("the style sheet loads another resource")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inSuggestions)
		}
	}
	walk(doc, false)
	if len(charts) != len(r.Operations) {
		t.Fatalf("%d charts for %d operations", len(charts), len(r.Operations))
	}
	for i, name := range charts {
		if name != r.Operations[i].Name {
			t.Fatalf("chart %d is for %q, want %q", i, name, r.Operations[i].Name)
		}
	}
	if bars != 4*len(r.Operations) {
		t.Fatalf("%d bars, want p50, p90, p99 and max for each of %d operations", bars, len(r.Operations))
	}
	if suggestionRows != len(r.Suggestions) {
		t.Fatalf("%d suggestion rows for %d suggestions", suggestionRows, len(r.Suggestions))
	}
	if tl := r.Timeline; tl != nil {
		if len(timelineCharts) != len(tl.Operations) || len(tl.Operations) == 0 {
			t.Fatalf("timeline charts for %v, want the %d operations of the timeline", timelineCharts, len(tl.Operations))
		}
		for _, s := range tl.Operations {
			if got := strings.Join(timelineCharts[s.Name], ","); got != "ops_per_sec,error_rate,p99_seconds" {
				t.Fatalf("%s: timeline charts %s, want throughput, error rate and p99", s.Name, got)
			}
		}
		if lines != 3*len(tl.Operations) {
			t.Fatalf("%d lines drawn, want one per timeline chart (%d)", lines, 3*len(tl.Operations))
		}
	} else if len(timelineCharts) != 0 {
		t.Fatal("timeline charts without a timeline")
	}
	var calls int
	for _, op := range r.Operations {
		calls += len(op.SlowestCalls)
	}
	if traceLinks != calls {
		t.Fatalf("%d trace links for %d slow calls", traceLinks, calls)
	}
	for _, s := range r.Suggestions {
		if !strings.Contains(buf.String(), html.EscapeString(s.Message)) {
			t.Fatalf("suggestion %s missing from the page", s.ID)
		}
	}
}

func TestHTMLEmptyAndIntervalReports(t *testing.T) {
	f := newFixture(t)
	empty := f.snapshot()
	f.calls(contract.OpGetLinkedPod.String(), 3, 0.001)
	cur := f.take()
	idle := Delta(cur, cur) // an interval with no calls: rows without timings
	for name, r := range map[string]*Report{"empty": empty, "idle interval": idle, "zero value": {}} {
		var buf bytes.Buffer
		if err := r.WriteHTML(&buf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := html.Parse(&buf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := r.WriteText(&buf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if op := idle.Operation(contract.OpGetLinkedPod.String()); op == nil || op.Count != 0 || op.P50Seconds != 0 || op.MaxSeconds != 0 {
		t.Fatalf("idle interval: %+v", op)
	}
}

func TestHTMLEscapesResourceValues(t *testing.T) {
	r := goldenReport(t)
	r.Service.Name = `<script>alert(1)</script>`
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "<script>") {
		t.Fatal("service name rendered unescaped")
	}
}

// TestHTMLScreenshot renders the page in headless Chromium and checks the
// picture is not blank. CHROMIUM_REQUIRED=1 (set by .ci/run, which installs
// Debian's chromium) makes a missing browser a failure.
func TestHTMLScreenshot(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		if os.Getenv("CHROMIUM_REQUIRED") == "1" {
			t.Fatal("chromium not found on PATH and CHROMIUM_REQUIRED=1")
		}
		t.Skip("chromium not found on PATH; install Debian's chromium package or set CHROMIUM_REQUIRED=1 to fail")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	shot := filepath.Join(dir, "report.png")
	// The handler's page: a report with a timeline, links and a refresh.
	var buf bytes.Buffer
	r := timelineReport(t)
	if err := r.writeHTML(&buf, pageOptions{refresh: time.Hour, links: true, span: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--hide-scrollbars", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--screenshot="+shot, "--window-size=1200,1600", "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 1600 {
		t.Fatalf("screenshot %v, want 1200×1600", b)
	}
	if n := paintedShare(img); n < 0.02 {
		t.Fatalf("screenshot is blank: %.2f%% of pixels differ from the background", n*100)
	} else {
		t.Logf("%.1f%% of pixels painted", n*100)
	}
	// REPORT_SCREENSHOT=/some/file.png keeps the picture and the page
	// (file.png.html) for a person to look at.
	if keep := os.Getenv("REPORT_SCREENSHOT"); keep != "" {
		_ = os.WriteFile(keep, mustRead(t, shot), 0o644)
		_ = os.WriteFile(keep+".html", buf.Bytes(), 0o644)
	}
}

// paintedShare is the share of pixels that differ from the top-left one,
// the page background.
func paintedShare(img image.Image) float64 {
	b := img.Bounds()
	bg := img.At(b.Min.X, b.Min.Y)
	br, bgG, bb, _ := bg.RGBA()
	var painted int
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r != br || g != bgG || bl != bb {
				painted++
			}
		}
	}
	return float64(painted) / float64(b.Dx()*b.Dy())
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
