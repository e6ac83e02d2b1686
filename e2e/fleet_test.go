//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	sfreport "github.com/statefulroute/sfotel/report"
)

// fleetMember is one quickstart process: its /metrics address (the
// Prometheus instance label) and its own final report.
type fleetMember struct {
	instance string
	report   sfreport.Report
}

// fleetMembers reads the quickstarts of the run: SFOTEL_E2E_QUICKSTART_URL
// with SFOTEL_E2E_REPORT and, when the run has a second one,
// SFOTEL_E2E_QUICKSTART_URL_2 with SFOTEL_E2E_REPORT_2.
func fleetMembers(t *testing.T) []fleetMember {
	t.Helper()
	pairs := [][2]string{{"SFOTEL_E2E_QUICKSTART_URL", "SFOTEL_E2E_REPORT"}}
	if os.Getenv("SFOTEL_E2E_QUICKSTART_URL_2") != "" || os.Getenv("SFOTEL_E2E_REPORT_2") != "" {
		pairs = append(pairs, [2]string{"SFOTEL_E2E_QUICKSTART_URL_2", "SFOTEL_E2E_REPORT_2"})
	} else {
		t.Log("SFOTEL_E2E_QUICKSTART_URL_2 is not set: the fleet is the one quickstart")
	}
	var out []fleetMember
	for _, p := range pairs {
		u, err := url.Parse(env(t, p[0]))
		if err != nil {
			t.Fatalf("%s: %v", p[0], err)
		}
		b, err := os.ReadFile(env(t, p[1]))
		if err != nil {
			t.Fatalf("%s: %v", p[1], err)
		}
		m := fleetMember{instance: u.Host}
		if err := json.Unmarshal(b, &m.report); err != nil {
			t.Fatalf("%s: %v", p[1], err)
		}
		out = append(out, m)
	}
	return out
}

// fleetSelector picks the quickstarts' own scrapes by instance: the
// Collector's Prometheus exporter re-exports the same series over OTLP
// under another instance, and must not be counted twice.
func fleetSelector(members []fleetMember) string {
	var alts []string
	for _, m := range members {
		// A regular expression inside a PromQL string: its backslashes
		// are escaped once more.
		alts = append(alts, strings.ReplaceAll(regexp.QuoteMeta(m.instance), `\`, `\\`))
	}
	return `instance=~"` + strings.Join(alts, "|") + `"`
}

// TestFleetReportIsTheSumOfTheProcesses builds the fleet report from the
// real Prometheus over the quickstarts it scrapes: each operation's calls
// and errors equal the sum of the processes' own final reports, and each
// quantile lies within the bound docs/report.md gives: inside the explicit
// bucket that holds the true quantile of all the calls, which lies between
// the processes' own quantiles (each within 2.2% of exact).
func TestFleetReportIsTheSumOfTheProcesses(t *testing.T) {
	members := fleetMembers(t)
	promURL := env(t, "SFOTEL_E2E_PROMETHEUS_URL")
	want := map[string][2]uint64{}
	for _, m := range members {
		for _, op := range m.report.Operations {
			if op.Count == 0 {
				continue
			}
			w := want[op.Name]
			want[op.Name] = [2]uint64{w[0] + op.Count, w[1] + op.Errors}
		}
	}
	if len(want) < 5 {
		t.Fatalf("the quickstarts' reports hold %d operations; they should have run at least 5", len(want))
	}
	q := sfreport.FleetQuery{
		Prometheus: promURL,
		Selector:   fleetSelector(members),
		// Before any quickstart started: their series begin in the range.
		Start: time.Now().Add(-30 * time.Minute),
	}
	var fleet *sfreport.Report
	poll(t, "fleet counts equal to the sum of the quickstarts' reports", func() (bool, string) {
		q.End = time.Now()
		r, err := sfreport.FleetReport(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		fleet = r
		got := map[string][2]uint64{}
		for _, op := range r.Operations {
			got[op.Name] = [2]uint64{op.Count, op.Errors}
		}
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("fleet %v\nwant  %v", got, want)
	})
	if len(fleet.Source.Instances) != len(members) {
		t.Fatalf("fleet instances %v, want the %d quickstarts", fleet.Source.Instances, len(members))
	}

	bounds := durationBounds(t, promURL, q.Selector)
	t.Logf("bucket boundaries from the data: %v", bounds)
	for _, op := range fleet.Operations {
		for _, c := range []struct {
			name string
			of   func(*sfreport.Operation) float64
		}{
			{"p50", func(o *sfreport.Operation) float64 { return o.P50Seconds }},
			{"p90", func(o *sfreport.Operation) float64 { return o.P90Seconds }},
			{"p99", func(o *sfreport.Operation) float64 { return o.P99Seconds }},
		} {
			var own []float64
			for i := range members {
				if o := members[i].report.Operation(op.Name); o != nil && o.Count > 0 {
					own = append(own, c.of(o))
				}
			}
			lo, hi := quantileBounds(bounds, own)
			got := c.of(&op)
			if got < lo || got > hi {
				t.Errorf("%s %s: fleet %.6g outside [%.6g, %.6g], from the processes' own %v", op.Name, c.name, got, lo, hi, own)
			} else {
				t.Logf("%s %s: fleet %.6g in [%.6g, %.6g], own %v", op.Name, c.name, got, lo, hi, own)
			}
		}
	}

	// The command builds the same report.
	out, err := exec.Command("go", "run", "../cmd/sfreport", "-prometheus", promURL, "-selector", q.Selector,
		"-start", q.Start.UTC().Format(time.RFC3339), "-format", "json").Output()
	if err != nil {
		t.Fatalf("go run ./cmd/sfreport: %v\n%s", err, stderrOf(err))
	}
	var cmdReport sfreport.Report
	if err := json.Unmarshal(out, &cmdReport); err != nil {
		t.Fatalf("sfreport's JSON: %v\n%.500s", err, out)
	}
	for _, op := range cmdReport.Operations {
		if w := want[op.Name]; op.Count != w[0] || op.Errors != w[1] {
			t.Errorf("sfreport %s: %d calls, %d errors; want %d and %d", op.Name, op.Count, op.Errors, w[0], w[1])
		}
	}
	var text strings.Builder
	_ = fleet.WriteText(&text)
	t.Logf("fleet report:\n%s", text.String())
}

// durationBounds reads the executor's duration bucket boundaries from
// Prometheus, the finite le values of the quickstarts' series.
func durationBounds(t *testing.T, promURL, selector string) []float64 {
	t.Helper()
	v, err := promVector(promURL, "group by (le) ("+promDurationBucket+"{"+selector+"})")
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, s := range v {
		b, err := strconv.ParseFloat(string(s.Metric["le"]), 64)
		if err == nil && !math.IsInf(b, 1) {
			out = append(out, b)
		}
	}
	sort.Float64s(out)
	if len(out) < 3 {
		t.Fatalf("bucket boundaries %v: too few", out)
	}
	return out
}

// quantileBounds is the documented bound of a fleet quantile: from the
// lower edge of the bucket that holds the smallest of the processes' own
// quantiles (less their 2.2%) to the upper edge of the bucket that holds
// the largest (plus 2.2%); in the +Inf bucket, the highest bound.
func quantileBounds(bounds []float64, own []float64) (lo, hi float64) {
	const ownError = 0.022
	minQ, maxQ := slices.Min(own)*(1-ownError), slices.Max(own)*(1+ownError)
	hi = bounds[len(bounds)-1]
	for i, b := range bounds {
		if b < minQ {
			lo = b
		}
		if b >= maxQ {
			hi = bounds[i]
			break
		}
	}
	return lo, hi
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
