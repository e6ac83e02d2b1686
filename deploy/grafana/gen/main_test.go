package main

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"testing"
)

// TestCheckedInDashboardIsGenerated fails when ../sfotel.json is not what
// the generator writes: edit dashboard.go and run `go run .` here.
func TestCheckedInDashboardIsGenerated(t *testing.T) {
	want, err := dashboardJSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../sfotel.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("deploy/grafana/sfotel.json differs from what deploy/grafana/gen writes; run `go run .` in deploy/grafana/gen (and edit dashboard.go, not the JSON)")
	}
}

// TestDashboardShape: the things a reviewer would check by hand. Every
// panel has a title and at least one query on the chosen Prometheus, ids
// are unique, every query is scoped to the $job variable, and the p99 panel
// asks Grafana for exemplars.
func TestDashboardShape(t *testing.T) {
	b, err := dashboardJSON()
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr       string `json:"expr"`
				Exemplar   bool   `json:"exemplar"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if d.UID != UID {
		t.Errorf("uid %q", d.UID)
	}
	ids := map[int]bool{}
	exemplars, panels := 0, 0
	scoped := regexp.MustCompile(`\{job=~"\$job", instance=~"\$instance"`)
	for _, p := range d.Panels {
		if ids[p.ID] || p.ID == 0 {
			t.Errorf("panel %q: id %d is zero or used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if p.Type == "row" {
			continue
		}
		panels++
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if q.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q queries data source %q, not the dashboard's variable", p.Title, q.Datasource.UID)
			}
			if !scoped.MatchString(q.Expr) {
				t.Errorf("panel %q: query not scoped to $job and $instance: %s", p.Title, q.Expr)
			}
			if q.Exemplar {
				exemplars++
			}
		}
	}
	if panels < 10 || exemplars == 0 {
		t.Errorf("%d panels, %d queries with exemplars", panels, exemplars)
	}
}
